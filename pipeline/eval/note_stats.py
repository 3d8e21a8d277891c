"""Per-piece note statistics in the style of Yang & Lerch (2020, mgeval) and muspy, on the shared
note model (:class:`pipeline.data.notes.Piece`).

Why numpy and not muspy: muspy 0.5.0 (its last release, 2022) installs beside our pins but adds
miditoolkit, pypianoroll and bidict and works on its own ``Music`` objects in ticks; each metric
below is a few lines on our notes, and the definitions follow muspy's where it has one
(``pitch_class_entropy``, ``pitch_range``, ``polyphony``, ``groove_consistency``).

Time: beats come from the file's ticks (``ticks_per_beat``) when the piece has them, else from
milliseconds at 120 bpm. There is no time signature in the note model: a bar is 4 beats.
"""

from __future__ import annotations

import numpy as np

from pipeline.data.notes import Piece

# IOI classes in beats: log2-spaced edges, so a 16th, an 8th, a quarter, ... fall in their own bins
IOI_EDGES = np.array([0.0, 0.1875, 0.375, 0.75, 1.5, 3.0, 6.0, np.inf])
INTERVAL_BINS = 13  # |interval| 0..11 semitones, then one bin for an octave or more
GROOVE_STEPS_PER_BEAT = 12  # 16ths and 8th-note triplets both land on the grid
BEATS_PER_BAR = 4

SCALARS = ("pitch_class_entropy", "pitch_range", "polyphony", "note_density", "grooving_similarity")
HISTOGRAMS = ("ioi_histogram", "pitch_interval_histogram")
STATISTICS = SCALARS + HISTOGRAMS


def _beats(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """(onset, end) of every note in beats from the piece origin."""
    if piece.clock is not None and all(n.ticks for n in piece.notes):
        t = np.array([n.ticks[:2] for n in piece.notes], dtype=np.float64)
        return (t[:, 0] - t[:, 0].min()) / piece.clock.ticks_per_beat, (
            t[:, 1] - t[:, 0].min()
        ) / piece.clock.ticks_per_beat
    ms = np.array([(n.start_ms, n.end_ms) for n in piece.notes], dtype=np.float64)
    return ms[:, 0] / 500.0, ms[:, 1] / 500.0


def pitch_class_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the note-count pitch-class histogram (muspy's definition)."""
    counts = np.bincount([n.pitch % 12 for n in piece.notes], minlength=12).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def pitch_range(piece: Piece) -> float:
    pitches = [n.pitch for n in piece.notes]
    return float(max(pitches) - min(pitches))


def polyphony(piece: Piece) -> float:
    """Mean number of notes sounding while at least one does: summed note durations over the
    length of the union of the notes' intervals (muspy's time-step average, without the grid)."""
    spans = sorted((n.start_ms, n.end_ms) for n in piece.notes if n.end_ms > n.start_ms)
    if not spans:
        return 0.0
    covered, cur_s, cur_e = 0, spans[0][0], spans[0][1]
    for s, e in spans[1:]:
        if s > cur_e:
            covered, cur_s, cur_e = covered + cur_e - cur_s, s, e
        else:
            cur_e = max(cur_e, e)
    covered += cur_e - cur_s
    return float(sum(e - s for s, e in spans) / covered)


def note_density(piece: Piece) -> float:
    """Notes per second over the piece's length (first onset to last end)."""
    length = max(n.end_ms for n in piece.notes) - min(n.start_ms for n in piece.notes)
    return float(len(piece.notes) / max(length / 1000.0, 1e-3))


def ioi_histogram(piece: Piece) -> np.ndarray:
    """Normalised histogram of inter-onset intervals (beats) between distinct successive onsets."""
    onsets = np.unique(np.round(_beats(piece)[0], 6))
    hist = np.histogram(np.diff(onsets), bins=IOI_EDGES)[0].astype(np.float64)
    return hist / hist.sum() if hist.sum() else hist


def pitch_interval_histogram(piece: Piece) -> np.ndarray:
    """Normalised histogram of |pitch intervals| between successive notes of each track (notes in
    onset order, a chord low to high; an octave or more in the last bin)."""
    hist = np.zeros(INTERVAL_BINS)
    for track in {n.track for n in piece.notes}:
        line = sorted((n.start_ms, n.pitch) for n in piece.notes if n.track == track)
        steps = np.minimum(np.abs(np.diff([p for _, p in line])), INTERVAL_BINS - 1)
        hist += np.bincount(steps.astype(int), minlength=INTERVAL_BINS)
    return hist / hist.sum() if hist.sum() else hist


def grooving_similarity(piece: Piece) -> float:
    """Mean over consecutive bars of 1 - Hamming distance / grid length of their binary onset
    patterns (Wu & Yang 2020, muspy's ``groove_consistency``); 1.0 for a one-bar piece."""
    steps = np.rint(_beats(piece)[0] * GROOVE_STEPS_PER_BEAT).astype(np.int64)
    per_bar = GROOVE_STEPS_PER_BEAT * BEATS_PER_BAR
    bars = np.zeros((int(steps.max()) // per_bar + 1, per_bar), dtype=bool)
    bars[steps // per_bar, steps % per_bar] = True
    if len(bars) < 2:
        return 1.0
    return float(1.0 - (bars[1:] != bars[:-1]).sum(axis=1).mean() / per_bar)


FUNCTIONS = {
    "pitch_class_entropy": pitch_class_entropy,
    "pitch_range": pitch_range,
    "polyphony": polyphony,
    "note_density": note_density,
    "grooving_similarity": grooving_similarity,
    "ioi_histogram": ioi_histogram,
    "pitch_interval_histogram": pitch_interval_histogram,
}


def piece_statistics(piece: Piece) -> dict[str, np.ndarray]:
    """Every statistic of one piece, each as a 1-D array (a scalar as length 1)."""
    if not piece.notes:
        raise ValueError(f"{piece.source or 'piece'}: no notes to measure")
    return {name: np.atleast_1d(np.asarray(f(piece), dtype=np.float64)) for name, f in FUNCTIONS.items()}


def statistics_matrix(pieces: list[Piece]) -> dict[str, np.ndarray]:
    """{statistic: [pieces, width]} over a set of pieces."""
    rows = [piece_statistics(p) for p in pieces]
    return {name: np.stack([r[name] for r in rows]) for name in STATISTICS}
