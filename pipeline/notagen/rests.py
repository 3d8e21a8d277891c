"""Rest reduction for training texts and its inverse for generated pieces (NotaGen's
``original/`` vs ``interleaved/`` outputs).

Training text = our interleaved ABC with all-rest voice segments removed (upstream's data
preprocessing); the patchilizer then adds the ``[r:i/j]`` stream tags.  A generated piece is
turned back into full interleaved ABC by stripping the stream tags, restoring the dropped
voices as full-bar rests, dropping the single-``%`` prompt lines and adding ``X:1`` (what
upstream's inference writes to ``interleaved/``).
"""

from __future__ import annotations

import re

from pipeline.notagen.abc_notation import AbcError
from pipeline.notagen.abc_patches import rest_reduce, rest_unreduce

_TAG = re.compile(r"^\[r:\d+/\d+\]", re.M)


def strip_stream_tags(text: str) -> str:
    return _TAG.sub("", text)


def reduce_rests(text: str) -> str:
    """Interleaved ABC -> rest-reduced training text (AbcError on a malformed layout)."""
    return rest_reduce(strip_stream_tags(text))


def restore_rests(text: str) -> tuple[str | None, str | None]:
    """Generated (tagged, reduced) text -> (interleaved ABC, None) or (None, reason)."""
    body = strip_stream_tags(text)
    if not any(line.startswith("[V:") for line in body.splitlines()):
        return None, "no tune body (no [V:n] bar line)"
    try:
        full = rest_unreduce(body)
    except (AbcError, ValueError, ZeroDivisionError) as e:
        return None, f"{type(e).__name__}: {e}"
    lines = [line for line in full.splitlines() if line and not (line.startswith("%") and not line.startswith("%%"))]
    if not any(line.startswith("X:") for line in lines):
        lines.insert(0, "X:1")
    return "\n".join(lines) + "\n", None


def complete_lines(text: str) -> str:
    """The text up to its last newline: a piece cut by a cap, without its unfinished line."""
    return text[: text.rfind("\n") + 1]
