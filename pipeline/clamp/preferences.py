"""CLaMP-DPO preference sets (NotaGen ``RL/data.py``): chosen and rejected pieces from scores.

Pieces are ranked by their CLaMP score (cosine to the mean reference feature), best first.
**Chosen**: walk down from the top until ``portion`` of all pieces passed every check: the
piece is complete (EOS, rests restored), not a near copy of a training piece (cosine to ANY
single reference > ``plagiarism``; the stage passes the threshold calibrated by
:func:`pipeline.clamp.scores.plagiarism_threshold`), staves of one instrument are contiguous in
the header, and the bars align (the stage passes upstream's abctoolkit check,
:func:`pipeline.notagen.parity.aligned`). **Rejected**: the
bottom ``portion``, no checks. An empty side is a clear stop (:class:`EmptyPreferenceSet`)
with the counts of every filter, never a DPO run on nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

_NAME = re.compile(r'nm="([^"]*)"')


class EmptyPreferenceSet(RuntimeError):
    """No chosen or no rejected piece survived; the message holds the counts."""

    def __init__(self, counts: dict) -> None:
        self.counts = counts
        super().__init__("empty preference set: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


def instruments_grouped(text: str) -> tuple[bool, str]:
    """Staves sharing an instrument name (``V:n nm="..."``) must be adjacent in the header."""
    names = [m.group(1) for ln in text.splitlines() if ln.startswith("V:") for m in [_NAME.search(ln)] if m]
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen and names[i - 1] != name:
            return False, f"instrument {name!r} staves are not contiguous"
        seen.add(name)
    return True, "ok"


Check = Callable[[int], tuple[bool, str]]


def piece_check(
    texts: list[str | None], max_sim: np.ndarray, plagiarism: float, aligned: Callable[[str], tuple[bool, str]]
) -> Check:
    """The chosen-side checks of piece i, cheapest first; (ok, reason)."""

    def check(i: int) -> tuple[bool, str]:
        text = texts[i]
        if text is None:
            return False, "incomplete"
        if float(max_sim[i]) > plagiarism:
            return False, "plagiarism"
        ok, _ = instruments_grouped(text)
        if not ok:
            return False, "instruments_split"
        ok, _ = aligned(text)
        return (True, "ok") if ok else (False, "misaligned")

    return check


@dataclass
class Preferences:
    chosen: list[int]
    rejected: list[int]
    counts: dict = field(default_factory=dict)

    @property
    def pairs(self) -> int:
        return len(self.chosen) * len(self.rejected)


def preference_set(scores, check: Check, portion: float = 0.1) -> Preferences:
    """Top ``portion`` passing ``check`` (chosen) and the bottom ``portion`` (rejected), disjoint.

    ``k = ceil(portion * N)`` per side (upstream ``int``; ceil keeps small runs non-empty).
    """
    s = np.asarray(scores, dtype=np.float64)
    n = len(s)
    if not 0 < portion <= 0.5:
        raise ValueError(f"portion must be in (0, 0.5], got {portion}")
    k = max(1, math.ceil(portion * n))
    order = sorted(range(n), key=lambda i: (-s[i], i))  # best first, ties by index
    chosen, failed = [], Counter()
    for i in order:
        if len(chosen) == k:
            break
        ok, why = check(i)
        if ok:
            chosen.append(i)
        else:
            failed[why] += 1
    rejected = [i for i in reversed(order) if i not in chosen][:k]
    counts = {
        "samples": n,
        "per_side": k,
        "chosen": len(chosen),
        "rejected": len(rejected),
        **{f"failed_{r}": c for r, c in sorted(failed.items())},
    }
    if not chosen or not rejected:
        raise EmptyPreferenceSet(counts)
    return Preferences(chosen, rejected, counts)
