"""The two upstream CLaMP 2 score estimators, and the per-piece numbers the DPO loop uses.

* ``mean_cosine_score`` = NotaGen ``clamp2/statistics.py``: the MEAN over generated pieces of
  cosine(mean reference feature, piece feature). The paper's and README's numbers use this.
* ``set_mean_score`` = clamp2 ``semantic_search/clamp2_score.py``: cosine of the two set means.
They agree for one generated piece and differ otherwise. Features are raw (not unit-normalised)
float32 rows, as upstream saves them.
"""

from __future__ import annotations

import numpy as np

ESTIMATORS = ("mean_cosine", "set_mean")


def _rows(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or len(a) == 0:
        raise ValueError(f"features must be a non-empty [N, D] array, got shape {a.shape}")
    return a


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """cosine of each row of a with vector b (float32, as upstream)."""
    return (a @ b) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b))


def piece_scores(generated, reference) -> np.ndarray:
    """cosine(mean reference feature, each generated feature): the per-piece CLaMP score."""
    g, r = _rows(generated), _rows(reference)
    if g.shape[1] != r.shape[1]:
        raise ValueError(f"feature sizes differ: generated {g.shape[1]}, reference {r.shape[1]}")
    return _cos(g, r.mean(axis=0)).astype(np.float32)


def mean_cosine_score(generated, reference) -> float:
    """statistics.py: mean over pieces of cosine(reference mean, piece)."""
    return float(piece_scores(generated, reference).mean())


def set_mean_score(generated, reference) -> float:
    """clamp2_score.py: cosine(mean of reference features, mean of generated features)."""
    g, r = _rows(generated), _rows(reference)
    return float(_cos(g.mean(axis=0)[None], r.mean(axis=0))[0])


def max_similarity(generated, reference) -> np.ndarray:
    """Each generated piece's highest cosine to any single reference piece (plagiarism check)."""
    g, r = _rows(generated), _rows(reference)
    gn = g / np.linalg.norm(g, axis=1, keepdims=True).clip(min=1e-12)
    rn = r / np.linalg.norm(r, axis=1, keepdims=True).clip(min=1e-12)
    return (gn @ rn.T).max(axis=1)


def plagiarism_threshold(heldout, reference, floor: float = 0.95) -> tuple[float, dict]:
    """The cosine above which a piece counts as a near copy of one training piece.

    Upstream's rule is cosine > 0.95 to any single ground-truth feature, calibrated for CLaMP 2,
    whose features of distinct pieces lie further apart.  A scorer that puts every piece of one
    style close together (ours at default size: held-out real pieces reach 0.999 to some
    training piece) would flag every piece, real ones included.  So the threshold is
    ``max(floor, highest nearest-training cosine of any held-out real piece)``: a piece is a copy
    only when it is closer to one training piece than any distinct real piece is; where the
    held-out pieces stay below ``floor`` (CLaMP 2) this is upstream's rule unchanged.
    """
    sim = max_similarity(heldout, reference)
    level = float(sim.max())
    stats = {
        "floor": float(floor),
        "heldout_pieces": int(len(sim)),
        "heldout_max": round(level, 6),
        "heldout_median": round(float(np.median(sim)), 6),
    }
    return max(float(floor), level), stats


def score_all(generated, reference) -> dict[str, float]:
    """Both estimators, named."""
    return {"mean_cosine": mean_cosine_score(generated, reference), "set_mean": set_mean_score(generated, reference)}
