"""NotaGen's 16-character patches and its optional rest reduction.

:func:`patchify` / :func:`unpatchify` cut text into fixed-size patches framed by
NotaGen's BOS/EOS patches; :func:`rest_reduce` / :func:`rest_unreduce` remove all-rest
voice segments from interleaved ABC and restore them.
"""

from __future__ import annotations

import re
from fractions import Fraction

from pipeline.notagen.abc_check import _INLINE_FIELD, _VOICE_TAG, _split
from pipeline.notagen.abc_notation import AbcError, _len_str

PAD_CHAR = "\x00"
BOS_CHAR = "\x01"
EOS_CHAR = "\x02"
BOS_PATCH = BOS_CHAR * 15 + EOS_CHAR
EOS_PATCH = BOS_CHAR + EOS_CHAR * 15


# ----------------------------------------------------------------------------
# rest reduction (NotaGen): drop all-rest voice segments, restore them later

_PREFIX_BAR = re.compile(r"^\s*(\|:|::|\|(?![|\]]))")
_SUFFIX_BAR = re.compile(r"\s*(:*\|+\]?:*|::)\s*$")
_REST_ONLY = re.compile(r"(?:\s*[zx][0-9/]*-?)+\s*")
_TUPLET = re.compile(r"\((\d)(?::(\d?))?(?::(\d))?")
_EVENT = re.compile(r"(?P<body>\[[^\]:]*\]|[_^=]*[A-Ga-gzx][,']*)(?P<len>\d*/*\d*)(?P<tie>-?)")


def _length(text: str) -> Fraction:
    """ABC length suffix -> multiple of L ("" 1, "3" 3, "/" 1/2, "//" 1/4, "3/2" 3/2)."""
    if not text:
        return Fraction(1)
    m = re.fullmatch(r"(\d*)(/*)(\d*)", text)
    if not m:
        raise AbcError(f"bad note length {text!r}")
    num = int(m.group(1)) if m.group(1) else 1
    slashes = len(m.group(2))
    if not slashes:
        return Fraction(num)
    den = int(m.group(3)) if m.group(3) else 2**slashes
    return Fraction(num, den)


def _segment_units(seg: str) -> Fraction:
    """Duration of one voice's bar segment, in multiples of L (simple grammar only)."""
    body = _INLINE_FIELD.sub(" ", re.sub(r'"[^"]*"|![^!]*!|\{[^}]*\}', " ", seg))
    total = Fraction(0)
    scale, left = Fraction(1), 0
    pos = 0
    while pos < len(body):
        t = _TUPLET.match(body, pos)
        if t:
            p = int(t.group(1))
            q = int(t.group(2)) if t.group(2) else (3 if p in (2, 4, 8) else 2)
            scale, left = Fraction(q, p), int(t.group(3)) if t.group(3) else p
            pos = t.end()
            continue
        e = _EVENT.match(body, pos)
        if e and e.group("body"):
            units = _length(e.group("len")) * (scale if left > 0 else 1)
            if left > 0:
                left -= 1
            total += units
            pos = e.end()
            continue
        pos += 1
    return total


def rest_reduce(text: str) -> str:
    """Drop voice segments whose bar is rests only (NotaGen's rest reduction).

    Segments carrying inline fields are kept, and so is the first voice of a bar
    whose voices are all rests, so every body line keeps at least one voice.
    """
    _split(text)  # layout check; raises AbcError
    out: list[str] = []
    for line in text.splitlines():
        if not line.startswith("[V:"):
            out.append(line)
            continue
        tags = list(_VOICE_TAG.finditer(line))
        segs = [
            (t.group(0), line[t.end() : tags[i + 1].start() if i + 1 < len(tags) else len(line)])
            for i, t in enumerate(tags)
        ]
        keep = []
        for tag, seg in segs:
            core = _SUFFIX_BAR.sub("", _PREFIX_BAR.sub("", seg, count=1), count=1)
            if _INLINE_FIELD.search(seg) or not _REST_ONLY.fullmatch(core):
                keep.append(tag + seg)
        out.append("".join(keep) if keep else "".join(segs[0]))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def rest_unreduce(text: str) -> str:
    """Restore the voices :func:`rest_reduce` dropped, as one full-bar rest each.

    The rest lasts as long as the first voice present in that bar and copies its
    barlines (so repeats stay aligned).
    """
    p = _split(text)
    out: list[str] = []
    bar = 0
    for line in text.splitlines():
        if not line.startswith("[V:"):
            out.append(line)
            continue
        segs = p.bars[bar]
        bar += 1
        ref = next(iter(segs.values()))
        prefix = _PREFIX_BAR.match(ref)
        suffix = _SUFFIX_BAR.search(ref)
        units = _segment_units(ref)
        rest = "z" + _len_str(units) if units > 0 else ""
        pieces = []
        for vid in p.order:
            if vid in segs:
                pieces.append(f"[V:{vid}]{segs[vid]}")
            else:
                pre = prefix.group(1) if prefix and prefix.group(1) in ("|:", "::") else ""
                suf = suffix.group(1) if suffix else "|"
                pieces.append(f"[V:{vid}]{pre}{rest}{suf}")
        out.append("".join(pieces))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


# ----------------------------------------------------------------------------
# NotaGen patches


def patchify(text: str, patch_size: int = 16, *, add_bos_eos: bool = True) -> list[str]:
    """Cut text into ``patch_size``-character patches, NotaGen style.

    Each line (with its trailing newline) is cut separately and its last patch is
    padded with ``'\\x00'``.  With ``add_bos_eos`` the list is framed by the BOS
    patch (``'\\x01' * (n-1) + '\\x02'``) and EOS patch (``'\\x01' + '\\x02' * (n-1)``).
    Only ASCII characters 3..127 are allowed in ``text``.
    """
    if patch_size < 2:
        raise AbcError("patch_size must be >= 2")
    bad = sorted({ch for ch in text if ord(ch) > 127 or ord(ch) < 3})
    if bad:
        raise AbcError(f"text holds characters outside the 128-id ASCII vocabulary: {bad[:5]!r}")
    patches: list[str] = []
    if add_bos_eos:
        patches.append(BOS_CHAR * (patch_size - 1) + EOS_CHAR)
    for line in text.splitlines(keepends=True):
        for i in range(0, len(line), patch_size):
            chunk = line[i : i + patch_size]
            patches.append(chunk + PAD_CHAR * (patch_size - len(chunk)))
    if add_bos_eos:
        patches.append(BOS_CHAR + EOS_CHAR * (patch_size - 1))
    return patches


def unpatchify(patches: list[str]) -> str:
    """Inverse of :func:`patchify`: drop BOS/EOS patches and padding."""
    out = []
    for patch in patches:
        if not patch:
            continue
        n = len(patch)
        if patch == BOS_CHAR * (n - 1) + EOS_CHAR or patch == BOS_CHAR + EOS_CHAR * (n - 1):
            continue
        out.append(patch.replace(PAD_CHAR, ""))
    return "".join(out)
