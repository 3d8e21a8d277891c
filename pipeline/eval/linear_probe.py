"""Linear probes on frozen embeddings (Aria's protocol, seed-systems 1.6, on our splits).

For one task (a label column) and one embedder (an [N, D] array with one row per piece):
  1. labels: the column's value per piece (missing, "" and "unknown" are unlabelled); a column no
     piece has is a ValueError naming the task. Classes with fewer than ``min_class_count`` (k)
     labelled pieces are dropped and listed; optionally each class is capped at ``max_per_class``
     pieces (seeded), which is how upstream builds class-balanced splits at scale.
  2. split: ``given`` trains on the train+val pieces and tests on the test pieces; ``stratified``
     is a seeded per-class split of all labelled pieces (``test_fraction`` of each class, at least
     one piece on each side); ``auto`` uses ``given`` when the test split has at least ``min_test``
     labelled pieces and every kept class on both sides, else ``stratified``. Which one ran is
     reported per task.
  3. probe: features standardised with train statistics (``standardize``), then either one
     zero-initialised ``nn.Linear(D, C)`` trained with AdamW (lr 3e-4, wd 0.1, linear warm-up then linear decay to
     10%, as upstream) on mini-batches for ``epochs`` epochs, or sklearn's LogisticRegression.
  4. scores on the test pieces: accuracy, macro-F1 (over the classes present in truth or
     prediction, as sklearn), per-class F1, confusion matrix, and percentile bootstrap 95% CIs
     (test pieces resampled with replacement ``bootstrap`` times, seeded).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MISSING = (None, "", "unknown", "none", "nan")


@dataclass(frozen=True)
class ProbeConfig:
    method: str = "linear"  # linear | logreg
    epochs: int = 50
    lr: float = 3e-4
    weight_decay: float = 0.1
    batch_size: int = 8
    warmup_steps: int = 100
    bootstrap: int = 1000
    seed: int = 42
    min_class_count: int = 5
    max_per_class: int | None = None
    split: str = "auto"  # auto | given | stratified
    test_fraction: float = 0.3
    min_test: int = 30
    standardize: bool = True


# ----------------------------------------------------------------------------- labels
def label_of(row: dict, column: str) -> str | None:
    """A piece's value in ``column`` (from its ``labels`` dict, else the row itself), or None."""
    labels = row.get("labels") or {}
    v = labels.get(column, row.get(column))
    if isinstance(v, float) and np.isnan(v):
        return None
    return None if v is None or str(v).strip().lower() in MISSING[1:] else str(v).strip()


def task_labels(rows: Sequence[dict], task: str) -> list[str | None]:
    values = [label_of(r, task) for r in rows]
    if not any(v is not None for v in values):
        seen = sorted({k for r in rows for k in (r.get("labels") or {})})
        raise ValueError(
            f"linear_probe task {task!r}: no piece has a value in label column {task!r} "
            f"(columns present: {seen}); add it via ingest metadata or linear_probe.extra_metadata"
        )
    return values


def keep_classes(
    values: Sequence[str | None], k: int, max_per_class: int | None = None, seed: int = 0
) -> tuple[np.ndarray, list[str], dict[str, int]]:
    """(indices of kept pieces, kept classes sorted, {dropped class: count})."""
    counts = Counter(v for v in values if v is not None)
    kept = sorted(c for c, n in counts.items() if n >= k)
    dropped = {c: n for c, n in sorted(counts.items()) if n < k}
    idx = [i for i, v in enumerate(values) if v in set(kept)]
    if max_per_class is not None:
        rng = np.random.default_rng([seed, 1])
        capped = []
        for c in kept:
            members = [i for i in idx if values[i] == c]
            if len(members) > max_per_class:
                members = sorted(rng.choice(members, size=max_per_class, replace=False).tolist())
            capped += members
        idx = sorted(capped)
    return np.asarray(idx, dtype=np.int64), kept, dropped


# ----------------------------------------------------------------------------- splits
def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class seeded split: round(test_fraction * n) test pieces, clamped to [1, n - 1]."""
    rng = np.random.default_rng([seed, 2])
    train, test = [], []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < 2:
            raise ValueError(f"class {c} has {len(members)} piece(s): a stratified split needs >= 2")
        members = rng.permutation(members)
        n_test = int(min(max(round(test_fraction * len(members)), 1), len(members) - 1))
        test += members[:n_test].tolist()
        train += members[n_test:].tolist()
    return np.sort(np.asarray(train)), np.sort(np.asarray(test))


def choose_split(y: np.ndarray, splits: Sequence[str], cfg: ProbeConfig) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(train positions, test positions, protocol used, why) over labelled pieces y."""
    splits = np.asarray(splits)
    is_test = splits == "test"
    given_ok = is_test.sum() >= cfg.min_test and all(
        (y[is_test] == c).any() and (y[~is_test] == c).any() for c in np.unique(y)
    )
    if cfg.split == "given" or (cfg.split == "auto" and given_ok):
        why = "given split: train+val pieces train the probe, test pieces score it"
        return np.flatnonzero(~is_test), np.flatnonzero(is_test), "given", why
    if cfg.split not in ("auto", "stratified"):
        raise ValueError(f"linear_probe.split must be auto, given or stratified, got {cfg.split!r}")
    why = f"seeded stratified split ({cfg.test_fraction:.0%} of each class tested)" + (
        ""
        if cfg.split == "stratified"
        else f": the test split has {int(is_test.sum())} labelled pieces (< min_test {cfg.min_test}) or misses a class"
    )
    tr, te = stratified_split(y, cfg.test_fraction, cfg.seed)
    return tr, te, "stratified", why


# ----------------------------------------------------------------------------- probes
def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu, sd = train.mean(0), train.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    return [(x - mu) / sd for x in (train, *others)]


def fit_linear(x: np.ndarray, y: np.ndarray, n_classes: int, cfg: ProbeConfig):
    """One nn.Linear(D, C) trained with AdamW + warm-up/linear decay; returns predict(x)."""
    import torch

    from pipeline.train.schedule import WarmupLinearDecay

    g = torch.Generator().manual_seed(cfg.seed)
    layer = torch.nn.Linear(x.shape[1], n_classes)
    with torch.no_grad():  # zero init: no random logits to unlearn at lr 3e-4 on a small set
        layer.weight.zero_()
        layer.bias.zero_()
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    per_epoch = -(-len(x) // cfg.batch_size)
    total = max(cfg.epochs * per_epoch, 1)
    opt = torch.optim.AdamW(layer.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = WarmupLinearDecay(min(cfg.warmup_steps, total), total, 0.1)
    step = 0
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), cfg.batch_size):
            b = perm[s : s + cfg.batch_size]
            for group in opt.param_groups:
                group["lr"] = cfg.lr * sched(step)
            loss = torch.nn.functional.cross_entropy(layer(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1

    def predict(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return layer(torch.as_tensor(z, dtype=torch.float32)).argmax(1).numpy()

    return predict


def fit_logreg(x: np.ndarray, y: np.ndarray, n_classes: int, cfg: ProbeConfig):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000, random_state=cfg.seed).fit(x, y)
    return clf.predict


# ----------------------------------------------------------------------------- scores
def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _f1_from_cm(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class F1 [..., C] and which classes are present (in truth or prediction)."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(np.float64)
    support, predicted = cm.sum(-1), cm.sum(-2)
    denom = support + predicted
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return f1, denom > 0


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, Any]:
    cm = confusion(y_true, y_pred, n_classes)
    f1, present = _f1_from_cm(cm)
    return {
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class_f1": f1.tolist(),
        "confusion": cm.tolist(),
    }


def bootstrap_ci(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, samples: int, seed: int
) -> dict[str, list[float]]:
    """Percentile 95% intervals of accuracy and macro-F1 over resampled test pieces."""
    if samples < 1:
        return {}
    n = len(y_true)
    idx = np.random.default_rng([seed, 3]).integers(0, n, size=(samples, n))
    t, p = y_true[idx], y_pred[idx]
    flat = (np.arange(samples)[:, None] * n_classes * n_classes + t * n_classes + p).ravel()
    cms = np.bincount(flat, minlength=samples * n_classes * n_classes).reshape(samples, n_classes, n_classes)
    acc = np.trace(cms, axis1=1, axis2=2) / n
    f1, present = _f1_from_cm(cms)
    macro = (f1 * present).sum(1) / np.maximum(present.sum(1), 1)
    q = lambda v: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]  # noqa: E731
    return {"accuracy": q(acc), "macro_f1": q(macro)}


def run_probe(x: np.ndarray, rows: Sequence[dict], task: str, cfg: ProbeConfig) -> dict[str, Any]:
    """Probe one task on embeddings ``x`` [N, D] of ``rows`` (each with "split" and "labels")."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(rows):
        raise ValueError(f"embeddings {x.shape} do not match {len(rows)} index rows")
    values = task_labels(rows, task)
    idx, classes, dropped = keep_classes(values, cfg.min_class_count, cfg.max_per_class, cfg.seed)
    base = {
        "task": task,
        "min_class_count": cfg.min_class_count,
        "dropped_classes": dropped,
        "classes": classes,
        "unlabelled": sum(v is None for v in values),
    }
    if len(classes) < 2:
        return base | {"skipped": f"fewer than 2 classes with >= {cfg.min_class_count} pieces"}
    y = np.asarray([classes.index(values[i]) for i in idx])
    tr, te, protocol, why = choose_split(y, [rows[i].get("split") for i in idx], cfg)
    missing = sorted(set(range(len(classes))) - set(y[tr].tolist()))
    if missing:
        raise ValueError(
            f"linear_probe task {task!r}: classes {[classes[c] for c in missing]} have no "
            f"training pieces under the {protocol} split; use split: stratified"
        )
    xtr, xte = x[idx[tr]], x[idx[te]]
    if cfg.standardize:
        xtr, xte = standardise(xtr, xte)
    fit = {"linear": fit_linear, "logreg": fit_logreg}.get(cfg.method)
    if fit is None:
        raise ValueError(f"linear_probe.method must be linear or logreg, got {cfg.method!r}")
    pred = np.asarray(fit(xtr, y[tr], len(classes), cfg)(xte))
    s = scores(y[te], pred, len(classes))
    majority = float((y[te] == np.bincount(y[tr], minlength=len(classes)).argmax()).mean())
    return (
        base
        | s
        | {
            "ci95": bootstrap_ci(y[te], pred, len(classes), cfg.bootstrap, cfg.seed),
            "per_class_f1": dict(zip(classes, (round(v, 4) for v in s["per_class_f1"]))),
            "protocol": protocol,
            "protocol_note": why,
            "n_train": int(len(tr)),
            "n_test": int(len(te)),
            "majority_accuracy": majority,
            "test_ids": [rows[i]["id"] for i in idx[te]],
        }
    )


def plot_confusion(cm: Sequence[Sequence[int]], classes: Sequence[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    size = 2.5 + 0.45 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                color="white" if cm[i, j] > cm.max() / 2 else "black",
                fontsize=8,
            )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(fig)
