"""A non-neural baseline embedding: four normalised histograms of a piece's notes.

  pitch_class   12 bins: pitch class of every pitched note (drums ignored).
  interval      25 bins: signed skyline intervals -12..+12 semitones (larger leaps clipped to
                the end bins); the skyline is the highest pitch of each distinct onset.
  duration       8 bins: note durations, edges 0, 50, 100, 200, 400, 800, 1600, 3200 ms, inf.
  onset_density 10 bins: onsets per 1-second window over the piece, edges 0, 1, 2, 3, 4, 6, 8,
                12, 16, 24, inf (windows with no onset count in bin 0).
Each histogram sums to 1 (all zeros when it has no events, e.g. the intervals of a one-note
piece); ``handcrafted(piece)`` concatenates them in this order (55 values).
"""

from __future__ import annotations

import numpy as np

from pipeline.data.notes import DRUM, Piece

DURATION_EDGES_MS = (0, 50, 100, 200, 400, 800, 1600, 3200, np.inf)
DENSITY_EDGES = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, np.inf)
MAX_INTERVAL = 12
SIZES = {
    "pitch_class": 12,
    "interval": 2 * MAX_INTERVAL + 1,
    "duration": len(DURATION_EDGES_MS) - 1,
    "onset_density": len(DENSITY_EDGES) - 1,
}
DIM = sum(SIZES.values())


def _normalised(counts: np.ndarray) -> np.ndarray:
    counts = counts.astype(np.float64)
    total = counts.sum()
    return (counts / total if total > 0 else counts).astype(np.float32)


def feature_blocks(piece: Piece) -> dict[str, np.ndarray]:
    """The four histograms of a piece, each normalised to sum 1 (or all zeros if empty)."""
    notes = [n for n in piece.notes if n.family != DRUM]
    pitches = np.array([n.pitch for n in notes], dtype=np.int64)
    starts = np.array([n.start_ms for n in notes], dtype=np.int64)
    durs = np.array([max(n.end_ms - n.start_ms, 0) for n in notes], dtype=np.float64)

    pc = np.bincount(pitches % 12, minlength=12) if len(notes) else np.zeros(12)

    iv = np.zeros(SIZES["interval"])
    if len(notes) > 1:
        onsets, inv = np.unique(starts, return_inverse=True)
        top = np.full(len(onsets), -1, dtype=np.int64)
        np.maximum.at(top, inv, pitches)
        steps = np.clip(np.diff(top), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL
        iv = np.bincount(steps, minlength=SIZES["interval"])

    dur = np.histogram(durs, bins=DURATION_EDGES_MS)[0] if len(notes) else np.zeros(SIZES["duration"])

    dens = np.zeros(SIZES["onset_density"])
    all_starts = np.array([n.start_ms for n in piece.notes], dtype=np.int64)
    if len(all_starts):
        windows = np.bincount((all_starts - all_starts.min()) // 1000)
        dens = np.histogram(windows, bins=DENSITY_EDGES)[0]
    return {
        "pitch_class": _normalised(pc),
        "interval": _normalised(iv),
        "duration": _normalised(dur),
        "onset_density": _normalised(dens),
    }


def handcrafted(piece: Piece) -> np.ndarray:
    """The concatenated histograms (``DIM`` = 55 float32 values)."""
    blocks = feature_blocks(piece)
    return np.concatenate([blocks[k] for k in SIZES])


def handcrafted_many(pieces) -> np.ndarray:
    pieces = list(pieces)
    return np.stack([handcrafted(p) for p in pieces]) if pieces else np.zeros((0, DIM), np.float32)
