"""Ticks to milliseconds exactly as ariautils' ``get_duration_ms`` computes them, quirks included.

The tempo list is the file's set_tempo events, stably sorted by tick (500,000 µs/beat at tick 0
only when there are none); it need not start at tick 0. From a start tick, ariautils walks the
list from the tempo before the first event at or after the start, summing one float term per
segment (mido's ``tick * (tempo * 1e-6 / tpb)``), and rounds the sum times 1e3 once. Two quirks
follow, and the tokens depend on them:
- a start after the last tempo event (with two or more events) adds a negative term at the
  second-to-last tempo, then the rest at the last tempo (e.g. two set_tempo events at tick 0
  and a first note at tick 480);
- with a single event at a tick > 0, ends up to that tick measure 0 ms.
``ms`` is that walk (bisect instead of a scan); the array versions give the same floats, and
hand anything they do not cover to ``ms``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pipeline.data.notes import Clock


@dataclass(frozen=True)
class AriaClock(Clock):
    """``tempos``: (tick, µs per beat) in ariautils' order; duplicates and a late first kept."""

    @cached_property
    def _tick_array(self) -> np.ndarray:
        return np.array(self._ticks, dtype=np.int64)

    @cached_property
    def _scale_list(self) -> list[float]:
        return [tempo * 1e-6 / self.ticks_per_beat for _, tempo in self.tempos]

    def ms(self, t0: int, t1: int) -> int:
        ticks, scales = self._ticks, self._scale_list
        n = len(ticks)
        first = min(bisect.bisect_left(ticks, t0), n - 1)  # first event at or after t0, else the last
        cur, seconds = t0, 0.0
        for j in range(max(first - 1, 0), n - 1):
            nxt = ticks[j + 1]
            if t1 < nxt:
                seconds += (t1 - cur) * scales[j]
                break
            seconds += (nxt - cur) * scales[j]
            cur = nxt
        if t1 > ticks[-1]:
            seconds += (t1 - cur) * scales[-1]
        return round(seconds * 1e3)

    def from_origin(self, t0: int):
        return lambda t1: self.ms(t0, t1)

    def ms_many(self, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """``ms(t0, t1)`` per pair: vectorised when t1 is in t0's first segment, or after the
        last event (the quirk); the rest (spans across tempo changes) go through ``ms``."""
        t0, t1 = np.asarray(t0, dtype=np.int64), np.asarray(t1, dtype=np.int64)
        ticks, scales = self._tick_array, self._scales
        n, last = len(ticks), int(ticks[-1])
        seconds = np.zeros(len(t0))
        done = np.zeros(len(t0), dtype=bool)
        if n == 1:
            seconds = np.where(t1 > last, (t1 - t0) * scales[0], 0.0)
            done[:] = True
        else:
            j = np.maximum(np.minimum(np.searchsorted(ticks, t0, side="left"), n - 1) - 1, 0)
            inside = t1 < ticks[j + 1]
            seconds[inside] = (t1 - t0)[inside] * scales[j[inside]]
            late = ~inside & (t0 > last) & (t1 > last)
            seconds[late] = (last - t0[late]) * scales[n - 2] + (t1[late] - last) * scales[n - 1]
            done = inside | late
        out = np.rint(seconds * 1e3).astype(np.int64)
        for k in np.flatnonzero(~done).tolist():
            out[k] = self.ms(int(t0[k]), int(t1[k]))
        return out

    def ms_from_many(self, t0: int, ticks: np.ndarray) -> np.ndarray:
        """``ms(t0, t)`` for many t: the running sums from t0 over the tempo events after it
        are the very terms ``ms`` adds, in the same order."""
        ticks = np.asarray(ticks, dtype=np.int64)
        n = len(self.tempos)
        if n == 1 or t0 > self._ticks[-1]:
            return self.ms_many(np.full(len(ticks), t0), ticks)
        j = max(min(bisect.bisect_left(self._ticks, t0), n - 1) - 1, 0)
        marks = [t0] + self._ticks[j + 1 :]
        scales = self._scale_list[j:]
        sums = [0.0]
        for m in range(1, len(marks)):
            sums.append(sums[-1] + (marks[m] - marks[m - 1]) * scales[m - 1])
        k = np.searchsorted(np.array(marks[1:], dtype=np.int64), ticks, side="right")
        seconds = np.array(sums)[k] + (ticks - np.array(marks, dtype=np.int64)[k]) * np.array(scales)[k]
        return np.rint(seconds * 1e3).astype(np.int64)
