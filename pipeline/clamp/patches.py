"""M3's patches of an ABC or MTF text (clamp2 ``M3Patchilizer``, specs notagen.md 6-7, clamp-mtf.md).

One patch is one header line (``X:``-style field or ``%%`` directive) or one bar of the tune
body; in interleaved ABC that is one voice's bar ``[V:n]...|``. Patch ids are
``[1] + ord(chars) + [2]`` cut to ``patch_size`` and padded with 0; the BOS patch is all 1s,
the EOS patch a 1 then 2s. Upstream quirks kept on purpose (released weights saw them):
text after the last barline of a line is dropped, a barline-free line (``%Baroque``, lyrics)
gives no patch, bars longer than ``patch_size - 2`` lose their tail and their EOS id.

A text whose first line starts with the word ``ticks_per_beat`` is MTF (CLaMP 2's MIDI text,
:mod:`pipeline.clamp.mtf`): there a patch is a run of consecutive lines of one message type,
the type word written once and the lines' rest joined by tabs while the patch fits
``patch_size - 2`` characters (newlines counted).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

PAD_ID, BOS_ID, EOS_ID, MASK_ID = 0, 1, 2, 3
DELIMITERS = ("|:", "::", ":|", "[|", "||", "|]", "|")
_SPLIT = re.compile("(" + "|".join(map(re.escape, DELIMITERS)) + ")")
_LINES = re.compile(r".*?\n|.*$")
MTF_HEADER = "ticks_per_beat"


class PatchError(ValueError):
    """A text M3 cannot cut into patches (e.g. a line that is a lone barline)."""


def to_ascii(text: str) -> str:
    """unidecode (as upstream), else NFKD with non-ASCII dropped."""
    try:
        from unidecode import unidecode

        return unidecode(text)
    except ImportError:  # pragma: no cover - unidecode ships with abctoolkit
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def drop_comment_lines(text: str) -> str:
    """NotaGen's extraction copy drops ``%`` lines (the prompt) but keeps ``%%`` directives."""
    return "".join(ln for ln in text.splitlines(keepends=True) if not (ln.startswith("%") and not ln.startswith("%%")))


def split_bars(line: str) -> list[str]:
    """Bars of one body line: a leading barline joins the next text, then (text + barline)
    pairs; a trailing element after the last barline is dropped."""
    parts = [p for p in _SPLIT.split(line) if p]
    if not parts:
        return []
    if parts[0] in DELIMITERS:
        if len(parts) < 2:
            raise PatchError(f"line is a lone barline: {line!r}")
        parts = [parts[0] + parts[1]] + parts[2:]
    return [parts[2 * i] + parts[2 * i + 1] for i in range(len(parts) // 2)]


def mtf_segments(lines: list[str], patch_size: int = 64) -> list[str]:
    """MTF patches: a line joins the current patch when the patch starts with the line's type
    word (upstream's prefix test, kept) and the joined text stays within ``patch_size - 2``."""
    out: list[str] = []
    patch = ""
    for line in lines:
        kind, _, rest = line.partition(" ")
        if patch.startswith(kind) and len(patch) + len(rest) <= patch_size - 2:
            patch = patch[:-1] + "\t" + rest
        else:
            if patch:
                out.append(patch)
            patch = line
    return out + [patch] if patch else out


def is_mtf(lines: list[str]) -> bool:
    """Upstream's switch: the first non-empty line's first space-separated word."""
    return bool(lines) and lines[0].split(" ")[0] == MTF_HEADER


def segments(text: str, patch_size: int = 64) -> list[str]:
    """The text of each patch (no BOS/EOS), in order."""
    lines = [ln for ln in _LINES.findall(to_ascii(text)) if ln]
    if is_mtf(lines):
        return mtf_segments(lines, patch_size)
    out: list[str] = []
    for line in lines:
        if len(line) > 1 and ((line[0].isalpha() and line[1] == ":") or line.startswith("%%")):
            out.append(line)
            continue
        bars = split_bars(line)
        if bars:
            bars[-1] += "\n"
            out.extend(bars)
    return out


def _ids(seg: str, patch_size: int) -> list[int]:
    ids = ([BOS_ID] + [ord(c) for c in seg] + [EOS_ID])[:patch_size]
    return ids + [PAD_ID] * (patch_size - len(ids))


def encode(text: str, patch_size: int = 64, *, special: bool = True) -> np.ndarray:
    """int64 [n, patch_size]; ``special`` frames it with the BOS and EOS patches."""
    segs = segments(text, patch_size)
    if special:
        segs = [chr(BOS_ID) * patch_size] + segs + [chr(EOS_ID) * patch_size]
    if not segs:
        return np.zeros((0, patch_size), dtype=np.int64)
    ids = np.array([_ids(s, patch_size) for s in segs], dtype=np.int64)
    if ids.max() > 127:
        raise PatchError("text holds characters outside ASCII after unidecode")
    return ids


def extraction_segments(n: int, patch_length: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Upstream's windows over n patches and their weights: consecutive chunks of
    ``patch_length``, the last replaced by the LAST ``patch_length`` patches (overlapping), weighted
    ``patch_length`` per full chunk and the remainder for the last one."""
    if n <= 0:
        raise PatchError("no patches to extract features from")
    spans = [(i, min(i + patch_length, n)) for i in range(0, n, patch_length)]
    spans[-1] = (max(0, n - patch_length), n)
    full, rem = divmod(n, patch_length)
    weights = [patch_length] * full + ([rem] if rem else [])
    return spans, weights
