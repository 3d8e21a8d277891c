"""Structureness indicator SI (Wu & Yang 2020, "The Jazz Transformer on the Front Line"), as GnM reports it.

GnM's figure gives SI short / mid / long beside pitch-class entropy and grooving similarity; its
repository has no evaluation code, and the one published implementation is the authors' MusDr
(slSeanWU/MusDr ``run_python_scapeplot.py`` + ``eval_metrics.compute_structure_indicator``), which
this module follows step by step on a rendered audio file:

1. audio at 22050 Hz (librosa ``soxr_hq``), ``chroma_stft`` (tuning 0, n_fft 4410, hop 2205: 10 Hz),
   a 21-frame boxcar smoothing and every 5th frame kept (2 Hz), columns L2-normalised (below 0.001:
   the flat unit vector);
2. a self-similarity matrix made transposition invariant (max over the 12 cyclic chroma shifts)
   and path-enhanced (mean over 16 frames along the diagonal, forward and backward, at 7 relative
   tempi 0.5..2), thresholded to its top 25%, scaled to [0, 1], -2 elsewhere, diagonal set to 1;
3. the fitness scape plot (Mueller's audio thumbnailing): for every segment (start, length) the
   optimal path family over the SSM, fitness = harmonic mean of its normalised score and coverage;
4. SI(lo, hi) = the maximum fitness over segment lengths lo..hi seconds: short 3-8 s, mid 8-15 s,
   long 15 s and more (``run_all_metrics.py``'s timescale bounds).

The accumulated-score recursion runs for all starts of one length at once; the path backtracking
is per segment, as upstream's, so the values match MusDr's own code (``test_structureness.py``).
"""

from __future__ import annotations

import math

import numpy as np

SSM_SR = 22_050
CHROMA_FFT, CHROMA_HOP = 4410, 2205  # 10 Hz chroma
SMOOTH, DOWNSAMPLE = 21, 5  # -> 2 Hz features
FRAME_RATE = 2
PATH_LEN = 16
TEMPI = np.exp(np.linspace(np.log(0.5), np.log(2.0), 7))
KEEP, PENALTY = 0.25, -2.0
TIMESCALES = {"short": (3, 8), "mid": (8, 15), "long": (15, 128)}


class StructurenessError(ValueError):
    """Audio SI cannot use (empty or non-finite)."""


def chroma_features(wave: np.ndarray, sr: int) -> np.ndarray:
    """[12, frames] smoothed, 2 Hz, column-normalised chroma."""
    import librosa
    from scipy.signal import convolve

    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if wave.size == 0 or not np.isfinite(wave).all():
        raise StructurenessError("audio is empty or has NaN/inf samples")
    y = wave if sr == SSM_SR else librosa.resample(wave, orig_sr=sr, target_sr=SSM_SR, res_type="soxr_hq")
    c = librosa.feature.chroma_stft(y=y, sr=SSM_SR, tuning=0, norm=2, hop_length=CHROMA_HOP, n_fft=CHROMA_FFT)
    x = (convolve(c, np.ones((1, SMOOTH)), mode="same") / SMOOTH)[:, ::DOWNSAMPLE]
    norms = np.sqrt((x**2).sum(axis=0))
    flat = np.full((x.shape[0], 1), 1 / np.sqrt(x.shape[0]))
    return np.where(norms > 0.001, x / np.where(norms > 0.001, norms, 1.0), flat)


def resample_columns(n_out: int, n_in: int) -> np.ndarray:
    """Column indices that stretch ``n_in`` columns to ``n_out`` (nearest, round half to even)."""
    return np.maximum(np.around(np.arange(1, n_out + 1) / n_out * n_in) - 1, 0).astype(np.int64)


def diagonal_smooth(s: np.ndarray, backward: bool) -> np.ndarray:
    """Mean over ``PATH_LEN`` cells along the diagonal, max over the relative tempi."""
    n = s.shape[0]
    out = np.zeros((n, n))
    for tempo in TEMPI:
        m = int(np.ceil(n / tempo))
        stretched = s[:, resample_columns(m, n)]
        padded = np.zeros((n + PATH_LEN, m + PATH_LEN))
        off = PATH_LEN if backward else 0
        padded[off : off + n, off : off + m] = stretched
        acc = np.zeros((n, m))
        for pos in range(PATH_LEN):
            k = off - pos if backward else pos
            acc += padded[k : k + n, k : k + m]
        out = np.maximum(out, (acc / PATH_LEN)[:, resample_columns(n, m)])
    return out


def self_similarity(x: np.ndarray) -> np.ndarray:
    """The enhanced, thresholded, scaled SSM of [12, N] features (diagonal 1)."""
    ssm = None
    for shift in range(x.shape[0]):
        s = np.roll(x, shift, axis=0).T @ x
        s = np.maximum(diagonal_smooth(s, backward=False), diagonal_smooth(s, backward=True))
        ssm = s if ssm is None else np.maximum(ssm, s)
    below = int(np.round(ssm.size * (1 - KEEP)))
    if below < ssm.size:
        ssm = np.where(ssm < np.sort(ssm, axis=None)[below], 0.0, ssm)
    else:
        ssm = np.zeros_like(ssm)
    zero, pos = ssm == 0, ssm > 0
    lo, hi = (ssm[pos].min() if pos.any() else 0.0), ssm.max()
    if hi > lo:
        ssm = (ssm - lo) / (hi - lo)
        ssm[zero] = PENALTY
    np.fill_diagonal(ssm, 1.0)
    return ssm


def accumulated_scores(segs: np.ndarray) -> np.ndarray:
    """[B, N, L+1] accumulated score matrices of B segments [B, N, L] (column 0: the elevator)."""
    b, n, length = segs.shape
    d = np.full((b, n, length + 1), -np.inf)
    d[:, 0, 0] = 0.0
    d[:, 0, 1] = segs[:, 0, 0]
    for row in range(1, n):
        d[:, row, 0] = np.maximum(d[:, row - 1, 0], d[:, row - 1, -1])
        d[:, row, 1] = d[:, row, 0] + segs[:, row, 0]
        if length > 1:
            two_back = d[:, row - 2, 1:length]  # row -1 wraps to the (not yet filled, -inf) last row, as upstream
            best = np.maximum(np.maximum(d[:, row - 1, 1:length], d[:, row - 1, 0 : length - 1]), two_back)
            d[:, row, 2:] = segs[:, row, 1:] + best
    return d


def path_family(d: list[list[float]]) -> list[list[tuple[int, int]]]:
    """Backtrack the optimal path family through one accumulated score matrix (upstream's rules)."""
    n_rows, n_cols = len(d), len(d[0])
    family, path = [], []
    n = n_rows - 1
    if d[n][n_cols - 1] < d[n][0]:
        m = 0
    else:
        m = n_cols - 1
        path.append((n_rows - 1, n_cols - 2))
    while n > 0 or m > 0:
        if n <= 2:
            preds = [(n - 1, m - 1)] if m <= 2 else [(n - 1, m - 1), (n - 1, m - 2)]
        else:
            preds = [(n - 1, m - 1), (n - 2, m - 1)] if m <= 2 else [(n - 1, m - 1), (n - 2, m - 1), (n - 1, m - 2)]
        if n == 0:
            cell = (0, m - 1)
        elif m == 0:
            if d[n - 1][n_cols - 1] > d[n - 1][0]:
                cell = (n - 1, n_cols - 1)
                if path:
                    family.append(path[::-1])
                path = [(n - 1, n_cols - 2)]
            else:
                cell = (n - 1, 0)
        elif m == 1:
            cell = (n, 0)
        else:
            best = -math.inf
            for p in preds:
                if best < d[p[0]][p[1]]:
                    best, cell = d[p[0]][p[1]], p
            path.append((cell[0], cell[1] - 1))
        n, m = cell
    family.append(path[::-1])
    return family[::-1]


def fitness(d: np.ndarray, n: int) -> float:
    """Harmonic mean of the normalised score and coverage of the segment's optimal path family."""
    eps = 1e-16
    score = max(d[-1, 0], d[-1, -1])
    family = path_family(d.tolist())
    m = family[0][-1][1] + 1
    score_n = (score - m) / (sum(len(p) for p in family) + eps)
    coverage_n = (sum(p[-1][0] - p[0][0] + 1 for p in family) - m) / (n + eps)
    return float(2 * score_n * coverage_n / (score_n + coverage_n + eps))


def fitness_scape_plot(ssm: np.ndarray) -> np.ndarray:
    """[length - 1, start] fitness of every segment of an [N, N] SSM (0 where no segment)."""
    n = ssm.shape[0]
    plot = np.zeros((n, n))
    for length in range(1, n + 1):
        starts = n - length + 1
        segs = np.stack([ssm[:, s : s + length] for s in range(starts)])
        d = accumulated_scores(segs)
        for s in range(starts):
            plot[length - 1, s] = fitness(d[s], n)
    return plot


def structure_indicator(plot: np.ndarray, low_s: float, high_s: float) -> float:
    """Max fitness over segment lengths ``low_s``..``high_s`` seconds (0 if the piece is shorter)."""
    lo, hi = int(low_s * FRAME_RATE) - 1, int(high_s * FRAME_RATE)
    return 0.0 if lo >= plot.shape[0] else float(plot[lo:hi].max())


def structureness(wave: np.ndarray, sr: int) -> dict[str, float]:
    """{short, mid, long} SI of one rendered piece."""
    x = chroma_features(wave, sr)
    if x.shape[1] < 3:
        return dict.fromkeys(TIMESCALES, 0.0)  # under 1.5 s: no segment reaches the shortest timescale
    plot = fitness_scape_plot(self_similarity(x))
    return {k: structure_indicator(plot, lo, hi) for k, (lo, hi) in TIMESCALES.items()}
