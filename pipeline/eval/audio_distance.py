"""Score-to-audio distances (MIDI-VALLE's objective_eval) and a signal-level FAD embedding.

- chroma distance: librosa ``chroma_cqt`` at 24 kHz of both signals; the reference clipped to
  [0, 1], the generated one to [1e-5, 1 - 1e-5]; frames truncated to the shorter (no DTW);
  L1 over all bins divided by the number of reference bins above 0.3.
- spectrogram distance: 80-bin mel at 24 kHz, 50 ms window, 12 ms hop, fmax 12 kHz, in dB, then
  normalised to [0, 1]; relative L2 sqrt(sum(diff^2) / sum(ref^2)). Upstream normalises each bin
  with fixed min/max tables from its training data, which are not published; we use one fixed
  range (-100 dB .. +20 dB) for every bin, so values are comparable between our rows, not with
  the paper.
- ``logmel_frames``: 64-bin log-mel frames (~ 21 ms hop at 24 kHz), an embedding for FAD that is
  not tied to any codec.
"""

from __future__ import annotations

import numpy as np

EVAL_SR = 24_000
DB_RANGE = (-100.0, 20.0)
MIN_SAMPLES = 2048


class AudioEvalError(ValueError):
    """Audio a distance cannot use (empty, silent reference, NaN)."""


def to_eval_rate(wave: np.ndarray, sr: int) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if wave.size == 0 or not np.isfinite(wave).all():
        raise AudioEvalError("audio is empty or has NaN/inf samples")
    wave = wave if sr == EVAL_SR else resample(wave, sr, EVAL_SR)
    return np.pad(wave, (0, max(0, MIN_SAMPLES - len(wave))))  # one full analysis window at least


def resample(wave: np.ndarray, sr: int, target: int) -> np.ndarray:
    """Polyphase resampling (scipy): fast and deterministic."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(sr), int(target))
    return resample_poly(np.asarray(wave, dtype=np.float32), target // g, sr // g).astype(np.float32)


def chroma(wave: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return librosa.feature.chroma_cqt(y=to_eval_rate(wave, sr), sr=EVAL_SR)


def chroma_distance(generated: np.ndarray, reference: np.ndarray, sr: int) -> float:
    g, r = chroma(generated, sr), chroma(reference, sr)
    n = min(g.shape[1], r.shape[1])
    g, r = np.clip(g[:, :n], 1e-5, 1 - 1e-5), np.clip(r[:, :n], 0.0, 1.0)
    active = int((r > 0.3).sum())
    if active == 0:
        raise AudioEvalError("the reference has no chroma bin above 0.3 (silent?)")
    return float(np.abs(g - r).sum() / active)


def mel_db(wave: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(
        y=to_eval_rate(wave, sr),
        sr=EVAL_SR,
        n_fft=2048,
        win_length=int(0.05 * EVAL_SR),
        hop_length=int(0.012 * EVAL_SR),
        n_mels=80,
        fmax=12_000,
    )
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    return np.clip((db - DB_RANGE[0]) / (DB_RANGE[1] - DB_RANGE[0]), 0.0, 1.0)


def spectrogram_distance(generated: np.ndarray, reference: np.ndarray, sr: int) -> float:
    g, r = mel_db(generated, sr), mel_db(reference, sr)
    n = min(g.shape[1], r.shape[1])
    g, r = g[:, :n], r[:, :n]
    denom = float((r**2).sum())
    if denom <= 0:
        raise AudioEvalError("the reference spectrogram is silent")
    return float(np.sqrt(((g - r) ** 2).sum() / denom))


def logmel_frames(wave: np.ndarray, sr: int) -> np.ndarray:
    """[frames, 64] log-mel frames (FAD embedding independent of the codec)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=to_eval_rate(wave, sr), sr=EVAL_SR, n_fft=1024, hop_length=512, n_mels=64)
    return np.log(mel + 1e-6).T.astype(np.float64)
