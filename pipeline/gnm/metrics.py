"""Style and objective metrics of GnM's evaluation, on event strings.

* style accuracy: the classifier's predicted composer vs the conditioned one, as a row-normalised
  confusion matrix (upstream ``composer_eval``); per-composer accuracy = its diagonal;
* pitch-class entropy (bits) of the note pitch classes of a piece (MusPy's definition);
* grooving-pattern similarity: per bar the binary onset pattern over its grid positions, mean of
  1 - |xor| / Q over all bar pairs (MusPy's definition; Q = 48 grid positions of 4/4);
* 95% intervals: percentile bootstrap over the pieces (``pipeline.eval.frechet``), seeded.
"""

from __future__ import annotations

import itertools

import numpy as np

from pipeline.eval.frechet import bootstrap_interval, mean_with_interval

PAPER = {  # paper figures: mean style accuracy mastery 0.57 vs scratch 0.50
    "Bach": (0.90, 0.80),
    "Chopin": (0.62, 0.80),
    "Mozart": (0.36, 0.00),
    "Beethoven": (0.40, 0.40),
}
PAPER_MEAN = (0.57, 0.50)
N_BOOT = 1000  # bootstrap resamples per interval


def pitch_class_entropy(events: list[str]) -> float | None:
    pcs = [int(t.rsplit("_", 1)[1]) % 12 for t in events if t.startswith("Note_Pitch_")]
    if not pcs:
        return None
    p = np.bincount(pcs, minlength=12) / len(pcs)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def onset_patterns(events: list[str], q: int = 48) -> list[np.ndarray]:
    bars, cur, beat = [], None, None
    for t in events:
        if t == "Bar_None":
            cur = np.zeros(q, dtype=bool)
            bars.append(cur)
        elif t.startswith("Beat_") and cur is not None:
            beat = int(t[len("Beat_") :])
        elif t.startswith("Note_Pitch_") and cur is not None and beat is not None and beat < q:
            cur[beat] = True
    return bars


def grooving_similarity(events: list[str], q: int = 48) -> float | None:
    bars = onset_patterns(events, q)
    if len(bars) < 2:
        return None
    sims = [1.0 - np.logical_xor(a, b).sum() / q for a, b in itertools.combinations(bars, 2)]
    return float(np.mean(sims))


def confusion(conditioned: list[str], predicted: list[str], classes: list[str]) -> np.ndarray:
    """Counts [conditioned x predicted]."""
    m = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for c, p in zip(conditioned, predicted):
        m[classes.index(c), classes.index(p)] += 1
    return m


def row_normalise(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(m.sum(axis=1, keepdims=True), 1)


def style_accuracy(m: np.ndarray, classes: list[str]) -> dict:
    """Per-composer accuracy (diagonal of the row-normalised matrix) and their mean."""
    rows = row_normalise(m)
    per = {c: round(float(rows[i, i]), 4) for i, c in enumerate(classes) if m[i].sum() > 0}
    return {"per_composer": per, "mean": round(float(np.mean(list(per.values()))), 4) if per else None}


def mean_or_none(values) -> float | None:
    vals = [v for v in values if v is not None]
    return round(float(np.mean(vals)), 4) if vals else None


def _rounded(lo_hi) -> list[float]:
    return [round(float(x), 4) for x in lo_hi]


def mean_interval(values, seed: int = 0) -> list[float] | None:
    """95% bootstrap interval of the mean of the non-None values; None under two values (no spread to resample)."""
    vals = [v for v in values if v is not None]
    if len(vals) < 2:
        return None
    return _rounded(mean_with_interval(vals, n_boot=N_BOOT, seed=seed)["ci95"])


def style_accuracy_intervals(conditioned: list[str], predicted: list[str], classes: list[str], seed: int = 0) -> dict:
    """95% intervals of ``style_accuracy``: per composer over its own pieces; the mean over all pieces
    resampled together (a composer absent from a resample drops out of that resample's mean)."""
    comp = np.array([classes.index(c) for c in conditioned])
    hit = np.array([c == p for c, p in zip(conditioned, predicted)], dtype=np.float64)
    per = {c: mean_interval(hit[comp == i], seed) for i, c in enumerate(classes) if (comp == i).any()}

    def mean_acc(idx: np.ndarray) -> float:
        c, h = comp[idx], hit[idx]
        return float(np.mean([h[c == j].mean() for j in np.unique(c)]))

    mean = _rounded(bootstrap_interval(len(hit), mean_acc, n_boot=N_BOOT, seed=seed)) if len(hit) > 1 else None
    return {"per_composer_ci95": per, "mean_ci95": mean}


def predicted_ratio_intervals(predicted: list[str], classes: list[str], seed: int = 0) -> dict:
    """95% interval of each composer's share of the predictions (the generality model's row)."""
    return {c: mean_interval([float(p == c) for p in predicted], seed) for c in classes}
