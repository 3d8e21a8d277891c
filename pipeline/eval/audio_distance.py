"""Score-to-audio distances (MIDI-VALLE's ``objective_eval``) and a signal-level FAD embedding.

MIDI-VALLE takes its chroma and spectrogram distances from nii-yamagishilab/score-to-audio
``objective_eval`` (``00_get.py`` writes each clip's [frames, bins] float32 features as raw bytes;
``01_compute_dis.py`` reads them back as rows of 512 floats, drops the remainder and truncates both
to the shorter row count). We do the same, in memory:

- chroma distance: librosa ``chroma_cqt`` at 24 kHz; ``tar`` clipped to [0, 1], ``gen`` to
  [1e-5, 1 - 1e-5]; L1 over the common rows divided by the number of ``tar`` values above 0.3
  (counted over all of ``tar``, as upstream does).
- spectrogram distance ("midispec"): STFT with n_fft 32768, 50 ms window, 12 ms hop at 24 kHz, a
  128-band MIDI-pitch filterbank on the magnitudes, ``20 log10(max(1e-5, .)) - 20`` dB with no
  further normalisation, then relative L2 ``sqrt(sum((tar - gen)^2) / sum(tar^2))``. Upstream reads
  the filterbank from ``midi_filter_4.bank``, a binary file absent from the snapshot we read; ours
  is rebuilt from what upstream's own notebook (``m2a/egs2/maestro/tts1/pyscripts/
  segments_sanity_check_visualization_xinwang.ipynb``) prints and plots of it: 128 bands over 16385
  bins, band 127 a triangle from MIDI 125 up to the Nyquist bin with apex ~7.3e-4 = 1 / (f(127) -
  f(125)), band 128 a constant 6.1e-5 = 1 / 16385. The other bands follow the same rule, unseen, so
  values can differ slightly from the paper's. Everything else is upstream's, checked against its
  own code in ``tests/unit/test_audio_distance_upstream.py``.
- roles: ``01_compute_dis.py`` loads ``tar`` from the *evaluated* system's directory and ``gen``
  from the reference's (its variable names say the reverse; the paths decide), so ``tar`` is the
  generated audio and the reference is ``gen``.
- ``spectrogram_distance_mel01``: this project's earlier variant (80-bin mel, dB scaled to [0, 1]
  with one fixed -100..+20 dB range, reference as denominator); kept as a second, named column.
- ``logmel_frames``: 64-bin log-mel frames (~ 21 ms hop at 24 kHz), an embedding for FAD that is
  not tied to any codec.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

EVAL_SR = 24_000
DB_RANGE = (-100.0, 20.0)
MIN_SAMPLES = 2048
ROW = 512  # upstream re-reads every feature file as rows of 512 float32 values
SPEC_N_FFT, SPEC_WIN, SPEC_HOP = 32_768, 1200, 288  # upstream hparams: num_freq 16385, 50 ms, 12 ms at 24 kHz
SPEC_REF_DB, SPEC_FLOOR, MIDI_BANDS = 20.0, 1e-5, 128


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


def upstream_rows(feat: np.ndarray) -> np.ndarray:
    """[frames, bins] -> float32 rows of 512, remainder dropped (``tofile`` then ``f_read_raw_mat(col=512)``)."""
    flat = np.ascontiguousarray(feat, dtype=np.float32).reshape(-1)
    return flat[: len(flat) // ROW * ROW].reshape(-1, ROW)


def chroma(wave: np.ndarray, sr: int) -> np.ndarray:
    """[frames, 12] (upstream ``ChromaEvaluation.inference``)."""
    import librosa

    return librosa.feature.chroma_cqt(y=to_eval_rate(wave, sr), sr=EVAL_SR).T


def chroma_rows_distance(tar: np.ndarray, gen: np.ndarray, threshold: float = 0.3) -> float:
    active = int((tar > threshold).sum())
    if active == 0:
        raise AudioEvalError(f"the generated audio has no chroma value above {threshold} (silent?)")
    n = min(len(tar), len(gen))
    t, g = np.clip(tar, 0, 1), np.clip(gen, 1e-5, 1 - 1e-5)
    return float(np.abs(t[:n] - g[:n]).sum() / active)


def chroma_distance(generated: np.ndarray, reference: np.ndarray, sr: int) -> float:
    return chroma_rows_distance(upstream_rows(chroma(generated, sr)), upstream_rows(chroma(reference, sr)))


@lru_cache(maxsize=1)
def midi_filterbank() -> np.ndarray:
    """[128, n_fft/2 + 1] MIDI filterbank as upstream's notebook plots it: band m a triangle over the STFT
    bins, linear in Hz, apex at MIDI pitch m, feet on m - 1 and m + 1, height 1 / (f(m+1) - f(m-1));
    the last band (apex above Nyquist) a constant 1 / (n_fft/2 + 1), i.e. the mean of all bins."""
    n_freq = SPEC_N_FFT // 2 + 1
    freqs = np.arange(n_freq) * EVAL_SR / SPEC_N_FFT
    hz = 440.0 * 2.0 ** ((np.arange(-1, MIDI_BANDS + 1) - 69) / 12)  # pitches -1 .. 128
    lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    bank = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid))) / (hi - lo)
    bank[mid[:, 0] > EVAL_SR / 2] = 1.0 / n_freq
    return bank.astype(np.float32)


def stft_magnitude(y: np.ndarray) -> np.ndarray:
    """[frames, n_fft/2 + 1] |STFT| as librosa 0.11 ``stft`` computes it (centred frames, zero padding,
    periodic Hann of 1200 samples centred in 32768): done in float32 blocks of frames, about 4x faster."""
    import scipy.fft
    from librosa.filters import get_window

    lo = (SPEC_N_FFT - SPEC_WIN) // 2  # where the window sits inside each n_fft frame
    padded = np.pad(y, SPEC_N_FFT // 2)
    starts = np.arange(1 + (len(padded) - SPEC_N_FFT) // SPEC_HOP) * SPEC_HOP + lo
    windowed = np.lib.stride_tricks.sliding_window_view(padded, SPEC_WIN)[starts]
    windowed = windowed * get_window("hann", SPEC_WIN, fftbins=True).astype(np.float32)
    out = np.empty((len(starts), SPEC_N_FFT // 2 + 1), dtype=np.float32)
    for i in range(0, len(starts), 64):
        block = np.zeros((len(windowed[i : i + 64]), SPEC_N_FFT), dtype=np.float32)
        block[:, lo : lo + SPEC_WIN] = windowed[i : i + 64]
        out[i : i + 64] = np.abs(scipy.fft.rfft(block, axis=1))
    return out


def midispec(wave: np.ndarray, sr: int) -> np.ndarray:
    """[frames, 128] MIDI-filterbank dB spectrogram (upstream ``Audio.melspectrogram``, transposed)."""
    from scipy.sparse import csr_matrix

    bands = stft_magnitude(to_eval_rate(wave, sr)) @ csr_matrix(midi_filterbank().T)
    return (20 * np.log10(np.maximum(SPEC_FLOOR, bands)) - SPEC_REF_DB).astype(np.float32)


def spec_rows_distance(tar: np.ndarray, gen: np.ndarray) -> float:
    n = min(len(tar), len(gen))
    t, g = tar[:n].astype(np.float64), gen[:n].astype(np.float64)
    denom = float((t**2).sum())
    if denom <= 0:
        raise AudioEvalError("the spectrogram is empty")
    return float(np.sqrt(((t - g) ** 2).sum() / denom))


def spectrogram_distance(generated: np.ndarray, reference: np.ndarray, sr: int) -> float:
    return spec_rows_distance(upstream_rows(midispec(generated, sr)), upstream_rows(midispec(reference, sr)))


def mel_db(wave: np.ndarray, sr: int) -> np.ndarray:
    """[80, frames] mel dB scaled to [0, 1] with one fixed range (figures, ``spectrogram_distance_mel01``)."""
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


def mel01_distance(generated: np.ndarray, reference: np.ndarray) -> float:
    """Relative L2 of two ``mel_db`` spectrograms, the reference's energy as denominator."""
    n = min(generated.shape[1], reference.shape[1])
    g, r = generated[:, :n], reference[:, :n]
    denom = float((r**2).sum())
    if denom <= 0:
        raise AudioEvalError("the reference spectrogram is silent")
    return float(np.sqrt(((g - r) ** 2).sum() / denom))


def spectrogram_distance_mel01(generated: np.ndarray, reference: np.ndarray, sr: int) -> float:
    return mel01_distance(mel_db(generated, sr), mel_db(reference, sr))


def logmel_frames(wave: np.ndarray, sr: int) -> np.ndarray:
    """[frames, 64] log-mel frames (FAD embedding independent of the codec)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=to_eval_rate(wave, sr), sr=EVAL_SR, n_fft=1024, hop_length=512, n_mels=64)
    return np.log(mel + 1e-6).T.astype(np.float64)
