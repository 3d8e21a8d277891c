"""Overlapping area of two distributions, and Yang & Lerch's (2020, mgeval) relative measure.

mgeval compares a generated set with a reference set per statistic through distances: the
reference's intra-set distances (every pair of its pieces) against the inter-set distances
(every generated piece to every reference piece). When the generated pieces are like the
reference ones, the two distance distributions coincide and their overlapping area (OA) is
near 1. Each distribution is a Gaussian KDE (Scott's bandwidth, as scipy's ``gaussian_kde``);
mgeval integrates ``min(pdf_a, pdf_b)`` only between the samples' extremes, we integrate over
4 bandwidths beyond them (the full area, so two equal sets give 1), on a binned grid: the KDE of
a few thousand distances is one convolution instead of one Gaussian per distance per point.
"""

from __future__ import annotations

import numpy as np

GRID = 2048


def _bandwidth(x: np.ndarray, scale: float) -> float:
    """Scott's rule (scipy's default); a constant sample gets a narrow kernel, not a singular one."""
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    return sd * len(x) ** (-1 / 5) if sd > 0 else max(scale, 1.0) * 1e-3


def _kde(x: np.ndarray, grid: np.ndarray, bw: float) -> np.ndarray:
    """Binned Gaussian KDE on an even grid, normalised to unit area."""
    dx = grid[1] - grid[0]
    counts = np.histogram(x, bins=len(grid), range=(grid[0] - dx / 2, grid[-1] + dx / 2))[0].astype(np.float64)
    half = int(min(np.ceil(4 * bw / dx), len(grid)))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * dx / bw) ** 2)
    pdf = np.convolve(counts, kernel / kernel.sum(), mode="same")
    return pdf / (pdf.sum() * dx)


def overlap_area(a, b) -> float:
    """Area under min(KDE of a, KDE of b): 1 for equal distributions, 0 for disjoint ones."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if len(a) == 0 or len(b) == 0:
        raise ValueError("overlapping area needs two non-empty samples")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("overlapping area of samples with NaN or inf")
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    bw_a, bw_b = _bandwidth(a, hi - lo), _bandwidth(b, hi - lo)
    pad = 4 * max(bw_a, bw_b)
    grid = np.linspace(lo - pad, hi + pad, GRID)
    dx = grid[1] - grid[0]
    return float(min(np.minimum(_kde(a, grid, bw_a), _kde(b, grid, bw_b)).sum() * dx, 1.0))


def pairwise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(x), len(y)] between rows of two [n, width] feature arrays."""
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def intra_distances(x: np.ndarray) -> np.ndarray:
    """Distances of every unordered pair of rows (mgeval's intra-set distances)."""
    d = pairwise(x, x)
    return d[np.triu_indices(len(d), k=1)]


def relative_overlap(reference: np.ndarray, test: np.ndarray) -> float:
    """mgeval's relative measure: OA of the reference's intra-set distances and the test-to-reference
    inter-set distances, for one statistic ([pieces, width] each)."""
    if len(reference) < 2:
        raise ValueError("the reference needs at least 2 pieces for intra-set distances")
    return overlap_area(intra_distances(reference), pairwise(test, reference))
