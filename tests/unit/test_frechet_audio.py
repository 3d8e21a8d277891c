"""Frechet distance, FAD-inf, bootstrap intervals and the score-to-audio distances."""

import numpy as np
import pytest

from pipeline.eval.audio_distance import AudioEvalError, chroma_distance, logmel_frames, spectrogram_distance
from pipeline.eval.frechet import FrechetError, fad, fad_inf, fad_with_interval, frechet_distance, mean_with_interval

pytestmark = pytest.mark.unit


def test_frechet_closed_form():
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([0.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(9 + 1)
    # diagonal covariances: sum over dims
    d = frechet_distance(np.zeros(2), np.diag([1.0, 9.0]), np.ones(2), np.diag([4.0, 1.0]))
    assert d == pytest.approx(2 + (1 - 2) ** 2 + (3 - 1) ** 2)


def test_fad_same_distribution_is_small_and_shift_is_large():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4000, 8)), rng.normal(size=(4000, 8))
    assert fad(a, b) < 0.05
    assert fad(a, b + 1.0) == pytest.approx(8.0, rel=0.05)
    with pytest.raises(FrechetError):
        fad(a, b[:1])


def test_fad_inf_removes_the_small_sample_bias():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(20000, 16))
    ev = rng.normal(size=(3000, 16)) + 0.5
    res = fad_inf(ref, ev, steps=10, min_n=300)
    truth = 16 * 0.25
    assert abs(res["fad_inf"] - truth) < abs(fad(ref, ev[:300]) - truth)
    assert res["r2"] > 0.5 and len(res["points"]) == 10


def test_intervals_cover_the_estimate():
    rng = np.random.default_rng(2)
    items = [rng.normal(size=(200, 4)) + 0.3 for _ in range(8)]
    ref = [rng.normal(size=(200, 4)) for _ in range(8)]
    res = fad_with_interval(ref, items, n_boot=50)
    assert res["ci95"][0] <= res["value"] <= res["ci95"][1] + 1e-9
    m = mean_with_interval([1.0, 2.0, 3.0, 4.0])
    assert m["value"] == 2.5 and 1.0 <= m["ci95"][0] < m["ci95"][1] <= 4.0


def test_chroma_and_spectrogram_distances():
    sr = 16000
    t = np.arange(sr * 2) / sr
    a = 0.3 * np.sin(2 * np.pi * 440 * t)
    c = 0.3 * np.sin(2 * np.pi * 523.25 * t)
    assert chroma_distance(a, a, sr) < chroma_distance(c, a, sr)
    assert spectrogram_distance(a, a, sr) == pytest.approx(0.0, abs=1e-6)
    assert spectrogram_distance(c, a, sr) > 0.05
    assert logmel_frames(a, sr).shape[1] == 64
    with pytest.raises(AudioEvalError):
        chroma_distance(np.zeros_like(a), a, sr)  # silent generated audio: upstream counts its bins
