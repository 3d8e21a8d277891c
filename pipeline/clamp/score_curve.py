"""Upstream's CLaMP 2 scores per K (the anchors our table is read against) and the score curve."""

from __future__ import annotations

from pathlib import Path

# Upstream numbers (issue 12 / seed-systems 4.6): average CLaMP 2 score per K.
ANCHORS = {
    "NotaGen README, Schubert demo": [0.324, 0.579, 0.778],
    "NotaGen paper (NotaGen rows)": [0.570, 0.674, 0.708, 0.730],
}
GROUND_TRUTH_ANCHOR = 0.792


def anchor_rows() -> list[list]:
    """One table row per anchor (K = 0..3), then the paper's ground truth."""
    rows = [[name] + [ys[k] if k < len(ys) else None for k in range(4)] for name, ys in ANCHORS.items()]
    return rows + [["ground truth (paper)", GROUND_TRUTH_ANCHOR, None, None, None]]


def plot_curve(path: Path, table_rows: list[list], gt: float | None) -> None:
    """Our two estimators over K, our held-out ground truth, and upstream's anchors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ks = list(range(len(table_rows)))
    ax.plot(ks, [r[1] for r in table_rows], "o-", label="ours: mean cosine (statistics.py)")
    ax.plot(ks, [r[2] for r in table_rows], "s--", label="ours: cosine of set means")
    if gt is not None:
        ax.axhline(gt, color="k", lw=1, label="ours: held-out real pieces")
    for name, ys in ANCHORS.items():
        ax.plot(range(len(ys)), ys, ":", marker=".", label=f"upstream: {name}")
    ax.axhline(GROUND_TRUTH_ANCHOR, color="gray", ls=":", lw=1, label="upstream: ground truth (paper)")
    ax.set_xlabel("CLaMP-DPO iteration K")
    ax.set_xticks(range(max(len(table_rows), 4)))
    ax.set_ylabel("CLaMP score")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
