"""Deterministic train/val/test splits from the content hash and the seed."""

from __future__ import annotations

import hashlib

from pipeline.params.data import SplitParams


def hash_fraction(key: str, seed: int) -> float:
    h = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def assign_split(content_hash: str, seed: int, split: SplitParams, given: str | None = None) -> str:
    """A split named in the metadata wins; otherwise the hash decides, stable across runs
    and across corpus growth (adding files never moves existing ones)."""
    if given:
        return given
    u = hash_fraction(content_hash, seed)
    if u < split.test:
        return "test"
    if u < split.test + split.val:
        return "val"
    return "train"
