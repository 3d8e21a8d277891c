"""Static figures for the report: learning curves and piano rolls, as PNG via matplotlib (Agg).

PNGs carry no timestamp metadata, so the same inputs give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.report.collect import Curve

PNG_META = {"Software": None}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, dest: Path, dpi: int) -> Path:
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, dpi=dpi, metadata=PNG_META)
    plt.close(fig)
    return dest


def _groups(names: list[str]) -> list[list[str]]:
    """Losses share one axes (train vs val), so do accuracies, perplexities and series with the
    same last word (``train_pos_cos`` and ``train_neg_cos``); the rest gets one axes each."""

    def kind(n: str) -> str:
        leaf = n.split("/")[-1].lower()
        for k in ("loss", "acc", "ppl", "perplexity"):
            if k in leaf:
                return k
        return leaf.rsplit("_", 1)[-1]

    order: dict[str, list[str]] = {}
    for n in names:
        order.setdefault(kind(n), []).append(n)
    return list(order.values())[:6]


def plot_curve(curve: Curve, dest: Path, title: str) -> Path:
    plt = _plt()
    groups = _groups(list(curve.series))
    width = 5.2 if len(groups) <= 2 else 4.2
    fig, axes = plt.subplots(1, len(groups), figsize=(width * len(groups), 3.4), squeeze=False)
    for ax, names in zip(axes[0], groups):
        for n in names:
            xs, ys = curve.series[n]
            ax.plot(xs, ys, label=n, linewidth=1.4, marker="o" if len(xs) < 30 else None, markersize=3)
        ax.set_xlabel(curve.x)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if all(min(curve.series[n][1]) > 0 for n in names) and any(
            max(curve.series[n][1]) / max(min(curve.series[n][1]), 1e-12) > 50 for n in names
        ):
            ax.set_yscale("log")
    fig.suptitle(title, fontsize=10)
    return _save(plt, fig, dest, dpi=90)


def plot_piano_roll(midi_path: Path, dest: Path, title: str, max_seconds: float = 60.0) -> Path | None:
    """Pitch x time image of a MIDI file; None when it cannot be read (shown as a note)."""
    import numpy as np
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(midi_path))
    except Exception:  # corrupt MIDI: the report says so instead of failing
        return None
    fs = 20
    roll = pm.get_piano_roll(fs=fs)[:, : int(max_seconds * fs)]
    if roll.size == 0 or not roll.any():
        return None
    rows = np.nonzero(roll.any(axis=1))[0]
    lo, hi = max(int(rows.min()) - 2, 0), min(int(rows.max()) + 3, 128)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 2.4))
    ax.imshow(
        roll[lo:hi] > 0,
        aspect="auto",
        origin="lower",
        cmap="Blues",
        interpolation="nearest",
        extent=(0, roll.shape[1] / fs, lo, hi),
    )
    ax.set_xlabel("seconds")
    ax.set_ylabel("pitch")
    ax.set_title(title, fontsize=9)
    return _save(plt, fig, dest, dpi=80)
