"""Frechet distance between embedding sets (FAD), FAD-inf, bootstrap intervals, and FMD / FMD-Inf.

Why our own: fadtk 1.1 and frechet-audio-distance 0.3 both import torchaudio at module level and
pin numpy < 2 / transformers < 5 (fadtk) on Python < 3.13, so neither installs next to our torch
2.13 / numpy 2 stack, and neither scores embeddings without loading its own audio models. The
maths follow fadtk: d^2 = |mu1 - mu2|^2 + Tr(C1 + C2 - 2 sqrt(C1 C2)) (scipy.linalg.sqrtm, eps on
the diagonal when the product is singular, the small imaginary part dropped); FAD-inf (Gui et al.
2024) draws n frames with replacement for ``steps`` values of n, fits FAD against 1/n and
reports the intercept.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import linalg


class FrechetError(ValueError):
    """Embeddings the Frechet distance cannot use (too few frames, mismatched widths, NaN)."""


def stats(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[0] < 2:
        raise FrechetError(f"need [frames >= 2, dim] embeddings, got {frames.shape}")
    if not np.isfinite(frames).all():
        raise FrechetError("embeddings contain NaN or inf")
    return frames.mean(axis=0), np.cov(frames, rowvar=False).reshape(frames.shape[1], frames.shape[1])


def frechet_distance(mu1, cov1, mu2, cov2, eps: float = 1e-6) -> float:
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    cov1, cov2 = np.atleast_2d(cov1), np.atleast_2d(cov2)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape:
        raise FrechetError(f"embedding widths differ: {mu1.shape} vs {mu2.shape}")
    covmean = linalg.sqrtm(cov1 @ cov2)
    if not np.isfinite(covmean).all():
        off = np.eye(cov1.shape[0]) * eps
        covmean = linalg.sqrtm((cov1 + off) @ (cov2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(covmean), 0.0))


def fad(reference: np.ndarray, evaluated: np.ndarray) -> float:
    """FAD between two frame sets [n, dim] (frames of all items stacked)."""
    return frechet_distance(*stats(reference), *stats(evaluated))


def fad_inf(reference: np.ndarray, evaluated: np.ndarray, *, steps: int = 25, min_n: int = 500, seed: int = 0) -> dict:
    """FAD extrapolated to infinitely many evaluated frames: intercept of FAD ~ a/n + b."""
    rng = np.random.default_rng(seed)
    mu_r, cov_r = stats(reference)
    evaluated = np.asarray(evaluated, dtype=np.float64)
    max_n = len(evaluated)
    lo = min(min_n, max(max_n // 4, evaluated.shape[1] + 2))
    ns = np.unique(np.linspace(lo, max_n, steps).astype(int))
    if len(ns) < 2:
        raise FrechetError(f"FAD-inf needs more evaluated frames than {max_n}")
    scores = [frechet_distance(mu_r, cov_r, *stats(evaluated[rng.integers(0, max_n, n)])) for n in ns]
    slope, intercept = np.polyfit(1.0 / ns, scores, 1)
    pred = slope / ns + intercept
    r2 = 1 - np.sum((scores - pred) ** 2) / max(np.sum((scores - np.mean(scores)) ** 2), 1e-12)
    return {
        "fad_inf": float(intercept),
        "slope": float(slope),
        "r2": float(r2),
        "points": [[int(n), float(s)] for n, s in zip(ns, scores)],
    }


def bootstrap_interval(
    n_items: int, statistic: Callable[[np.ndarray], float], *, n_boot: int = 200, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of ``statistic(item_indices)`` over item resamples with replacement."""
    rng = np.random.default_rng(seed)
    vals = [statistic(rng.integers(0, n_items, n_items)) for _ in range(n_boot)]
    a = (1 - level) / 2
    return float(np.quantile(vals, a)), float(np.quantile(vals, 1 - a))


def fad_with_interval(
    reference: Sequence[np.ndarray], evaluated: Sequence[np.ndarray], *, n_boot: int = 200, seed: int = 0
) -> dict:
    """FAD of per-item frame arrays, with a 95% interval from resampling the evaluated items
    (the reference set stays fixed, as a background set does in fadtk)."""
    ref = np.concatenate(list(reference))
    mu_r, cov_r = stats(ref)

    def score(idx):
        return frechet_distance(mu_r, cov_r, *stats(np.concatenate([evaluated[i] for i in idx])))

    lo, hi = bootstrap_interval(len(evaluated), score, n_boot=n_boot, seed=seed)
    return {"value": score(np.arange(len(evaluated))), "ci95": [lo, hi]}


def mean_with_interval(values: Sequence[float], *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Mean of per-item values with a 95% bootstrap percentile interval."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        raise FrechetError("no values")
    lo, hi = bootstrap_interval(len(v), lambda idx: float(v[idx].mean()), n_boot=n_boot, seed=seed)
    return {"value": float(v.mean()), "ci95": [lo, hi]}


# ----------------------------------------------------------------------------- FMD (Retkowski et al. 2024)
# Frechet Music Distance is the same distance on per-piece CLaMP 2 features, with the
# frechet-music-distance package's Gaussian estimators and its FMD-Inf; checked against the
# package on fixed feature arrays (tests/unit/test_fmd.py).
ESTIMATORS = ("mle", "shrinkage", "oas", "ledoit_wolf", "bootstrap")


def gaussian(features: np.ndarray, estimator: str = "mle", *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of [pieces, dim] features. ``mle``: sample mean and np.cov (ddof 1, the
    package's default); ``shrinkage`` (0.1), ``oas``, ``ledoit_wolf``: scikit-learn's estimators,
    well conditioned when pieces < dim; ``bootstrap``: the mean of 1000 resampled MLE estimates."""
    x = np.asarray(features, dtype=np.float64)
    stats(x)  # shape and finiteness checks, one clear error
    if estimator == "mle":
        return stats(x)
    if estimator == "bootstrap":
        rng = np.random.default_rng(seed)
        draws = [stats(x[rng.choice(len(x), size=len(x), replace=True)]) for _ in range(1000)]
        return np.mean([m for m, _ in draws], axis=0), np.mean([c for _, c in draws], axis=0)
    from sklearn.covariance import OAS, LedoitWolf, ShrunkCovariance

    models = {
        "shrinkage": lambda: ShrunkCovariance(assume_centered=False, shrinkage=0.1),
        "oas": lambda: OAS(assume_centered=False),
        "ledoit_wolf": lambda: LedoitWolf(assume_centered=False, block_size=1000),
        "leodit_wolf": lambda: LedoitWolf(assume_centered=False, block_size=1000),  # the package's spelling
    }
    if estimator not in models:
        raise FrechetError(f"unknown Gaussian estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    fit = models[estimator]().fit(x)
    return fit.location_, fit.covariance_


def fmd(reference: np.ndarray, test: np.ndarray, estimator: str = "mle") -> float:
    """FMD between per-piece feature sets [n, dim] (reference: e.g. the held-out pieces)."""
    return frechet_distance(*gaussian(reference, estimator), *gaussian(test, estimator))


def fmd_inf(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    steps: int = 25,
    min_n: int = 500,
    estimator: str = "mle",
    seed: int = 0,
) -> dict:
    """FMD-Inf as the package computes it: for ``steps`` sizes n from ``linspace(min_n, len(test))``
    draw n test pieces with replacement, FMD of their MLE Gaussian to the reference's, fit
    FMD ~ slope / n + intercept; the intercept is FMD-Inf (seeded here, unseeded upstream)."""
    mu_r, cov_r = gaussian(reference, estimator)
    test = np.asarray(test, dtype=np.float64)
    max_n = len(test)
    if not 2 <= min_n < max_n:
        raise FrechetError(f"FMD-Inf needs 2 <= min_n < test pieces, got min_n={min_n} and {max_n} pieces")
    rng = np.random.default_rng(seed)
    ns = np.array([int(n) for n in np.linspace(min_n, max_n, steps)])
    scores = np.array(
        [frechet_distance(mu_r, cov_r, *stats(test[rng.choice(max_n, size=n, replace=True)])) for n in ns]
    )
    slope, intercept = np.polyfit(1.0 / ns, scores, 1)
    r2 = 1 - np.sum((scores - (slope / ns + intercept)) ** 2) / max(np.sum((scores - scores.mean()) ** 2), 1e-300)
    return {
        "fmd_inf": float(intercept),
        "slope": float(slope),
        "r2": float(r2),
        "points": [[int(n), float(s)] for n, s in zip(ns, scores)],
    }
