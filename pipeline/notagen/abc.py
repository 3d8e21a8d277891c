"""Interleaved-ABC tokenizer (NotaGen style): public facade.

The work is split by idea; import from here:

- :mod:`pipeline.notagen.abc_writer`: music21 score / native ABC tune ->
  interleaved ABC, one line per bar holding every voice
  (:func:`score_to_interleaved_abc`, :func:`abc_tune_to_interleaved`);
  one voice's bar is written by :mod:`pipeline.notagen.abc_bar`, and pitch,
  length, key and meter spelling live in :mod:`pipeline.notagen.abc_notation`
  (with :class:`AbcError`).
- :mod:`pipeline.notagen.abc_check`: :func:`validate_interleaved` and
  :func:`deinterleave` (the rewrite music21's ABC reader needs).
- :mod:`pipeline.notagen.abc_patches`: 16-character patches with NotaGen's
  BOS/EOS patches (:func:`patchify`, :func:`unpatchify`) and NotaGen's optional
  removal of all-rest voice segments (:func:`rest_reduce`, :func:`rest_unreduce`).
"""

from __future__ import annotations

from pipeline.notagen.abc_check import deinterleave, validate_interleaved
from pipeline.notagen.abc_notation import AbcError
from pipeline.notagen.abc_patches import (
    BOS_CHAR,
    BOS_PATCH,
    EOS_CHAR,
    EOS_PATCH,
    PAD_CHAR,
    patchify,
    rest_reduce,
    rest_unreduce,
    unpatchify,
)
from pipeline.notagen.abc_writer import abc_tune_to_interleaved, score_to_interleaved_abc

__all__ = [
    "AbcError",
    "BOS_CHAR",
    "BOS_PATCH",
    "EOS_CHAR",
    "EOS_PATCH",
    "PAD_CHAR",
    "abc_tune_to_interleaved",
    "deinterleave",
    "patchify",
    "rest_reduce",
    "rest_unreduce",
    "score_to_interleaved_abc",
    "unpatchify",
    "validate_interleaved",
]
