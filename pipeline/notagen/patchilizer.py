"""NotaGen's character patches, exactly as upstream's training patchilizer builds them.

Ids are the characters' ASCII codes; 0 pad, 1 BOS, 2 EOS; 16 characters per patch.

* Lines are split on ``'\\n'``, empty lines dropped, ``'\\n'`` re-appended.  The tune body
  starts at the first line holding ``[V:`` (metadata before it).
* Stream tags: every body line gets ``[r:i/j]`` (line index / lines after it), unless the
  body already carries them (DPO data, generated pieces), which are then kept as they are.
* Metadata lines are cut into 16-char patches line by line; body lines are first split into
  "bars" on the delimiters ``|: :: :| [| || |] |`` with the barline glued to the START of the
  following bar, and the trailing ``|\\n`` merged back into the last bar (upstream's quirks,
  kept because released weights saw them).
* Each segment gets an EOS character appended only when its length is not a multiple of 16;
  the last patch is right-padded with 0.  The BOS patch (15x1, 2) comes first and the EOS
  patch (1, 15x2) last.
* Training crops (head / tail / middle at line starts, metadata kept) follow upstream's
  candidate rule; see :func:`crop_patches`.

Where upstream silently drops the rest of a piece (a body line its bar splitter cannot
pair, e.g. a single-element line), :func:`patchify` raises :class:`PatchifyError` unless
``on_bad_line="drop"`` asks for upstream's behaviour.
"""

from __future__ import annotations

import bisect
import random
import re

import torch

PATCH_SIZE = 16
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
VOCAB = 128
DELIMITERS = ("|:", "::", ":|", "[|", "||", "|]", "|")
_DELIM_RE = re.compile("(" + "|".join(map(re.escape, DELIMITERS)) + ")")
_STREAM_TAG = re.compile(r"^\[r:\d+/\d+\]")


class PatchifyError(ValueError):
    """ABC text that cannot be cut into NotaGen patches (non-ASCII, unpairable bar line...)."""


def bos_patch(patch_size: int = PATCH_SIZE) -> str:
    return chr(BOS_ID) * (patch_size - 1) + chr(EOS_ID)


def eos_patch(patch_size: int = PATCH_SIZE) -> str:
    return chr(BOS_ID) + chr(EOS_ID) * (patch_size - 1)


def split_lines(text: str) -> list[str]:
    return [line + "\n" for line in text.split("\n") if line]


def body_start(lines: list[str]) -> int:
    """Index of the first body line: the first line holding ``[V:`` (upstream train mode).

    Upstream silently treats the last line as the body when no line matches; here that is
    an error, since it would train on metadata as if it were music.
    """
    for i, line in enumerate(lines):
        if "[V:" in line or line.startswith("[r:"):
            return i
    raise PatchifyError("no tune-body line (no line holds '[V:'); is this interleaved ABC?")


def has_stream_tags(body: list[str]) -> bool:
    return bool(body) and all(_STREAM_TAG.match(line) for line in body)


def add_stream_tags(body: list[str], extra_lines: int = 0) -> list[str]:
    """``[r:i/j]`` on every body line, j = lines after it (+ ``extra_lines`` still to come)."""
    n = len(body)
    return [f"[r:{i}/{n - 1 - i + extra_lines}]{line}" for i, line in enumerate(body)]


def split_bars(line: str) -> list[str]:
    """One body line -> bars, barlines glued to the following bar (upstream ``split_bars``).

    Raises :class:`PatchifyError` where upstream's pairing hits an IndexError.
    """
    parts = [p for p in _DELIM_RE.split(line) if p]
    if len(parts) == 1:
        return parts
    try:
        if parts[0] in DELIMITERS:
            bars = [parts[i] + parts[i + 1] for i in range(0, len(parts), 2)]
        else:
            bars = [parts[0]] + [parts[i] + parts[i + 1] for i in range(1, len(parts), 2)]
        if "V" not in bars[-1]:
            bars[-2] += bars[-1]
            bars = bars[:-1]
    except IndexError:
        raise PatchifyError(f"upstream's bar splitter cannot pair this line: {line!r}") from None
    return bars


def split_patches(segment: str, patch_size: int = PATCH_SIZE, *, last_open: bool = False) -> list[str]:
    """Cut one metadata line or bar; EOS char only when the length is not a multiple."""
    if not last_open and len(segment) % patch_size:
        segment += chr(EOS_ID)
    return [segment[i : i + patch_size] for i in range(0, len(segment), patch_size)]


def body_patches(
    body: list[str], patch_size: int = PATCH_SIZE, *, on_bad_line: str = "raise", last_open: bool = False
) -> list[str]:
    bars: list[str] = []
    for line in body:
        try:
            bars += split_bars(line)
        except PatchifyError:
            if on_bad_line == "drop":  # upstream: this line and every later one vanish
                break
            raise
    out: list[str] = []
    for k, bar in enumerate(bars):
        out += split_patches(bar, patch_size, last_open=last_open and k == len(bars) - 1)
    return out


def metadata_patches(lines: list[str], patch_size: int = PATCH_SIZE) -> list[str]:
    return [p for line in lines for p in split_patches(line, patch_size)]


def to_ids(patches: list[str], patch_size: int = PATCH_SIZE) -> torch.Tensor:
    """Patches -> LongTensor [P, patch_size], right-padded with 0; named error outside ASCII."""
    rows = []
    for p in patches:
        ids = [ord(c) for c in p]
        if any(i >= VOCAB for i in ids):
            bad = sorted({c for c in p if ord(c) >= VOCAB})
            raise PatchifyError(
                f"characters outside NotaGen's 128-id vocabulary: {bad[:5]!r} "
                "(upstream has no unidecode step and crashes on them)"
            )
        rows.append(ids + [PAD_ID] * (patch_size - len(ids)))
    return torch.tensor(rows, dtype=torch.long).reshape(len(rows), patch_size)


def split_piece(text: str) -> tuple[list[str], list[str]]:
    """(metadata lines, tagged body lines), both with their ``'\\n'``."""
    lines = split_lines(text)
    start = body_start(lines)
    meta, body = lines[:start], lines[start:]
    if not has_stream_tags(body):
        body = add_stream_tags([_STREAM_TAG.sub("", line) for line in body])
    return meta, body


def crop_patches(
    meta: list[str],
    body: list[str],
    patch_length: int,
    rng: random.Random,
    patch_size: int = PATCH_SIZE,
    on_bad_line: str = "raise",
) -> list[str]:
    """Upstream's stream-mode crop: head / tail / middle at a body line start, metadata kept.

    Candidates are body-patch index 0 and one past every body patch holding a newline; they
    are cut just after the first candidate >= (total - patch_length).  'tail' / 'middle'
    re-patchify the body from that line (keeping its original [r:] tags) and add the EOS
    patch; everything is then truncated to ``patch_length`` (so 'head' loses its EOS patch).
    """
    m = [bos_patch(patch_size)] + metadata_patches(meta, patch_size)
    b = body_patches(body, patch_size, on_bad_line=on_bad_line) + [eos_patch(patch_size)]
    if len(m) + len(b) <= patch_length:
        return m + b
    cands = [0] + [i + 1 for i, p in enumerate(b) if "\n" in p]
    cands = cands[: bisect.bisect_left(cands, len(m) + len(b) - patch_length) + 1]
    choices = ["head"] if len(cands) == 1 else ["head", "tail"] if len(cands) == 2 else ["head", "tail", "middle"]
    choice = rng.choice(choices)
    if choice != "head":
        line = len(cands) - 1 if choice == "tail" else rng.choice(range(1, len(cands) - 1))
        b = body_patches(body[line:], patch_size, on_bad_line=on_bad_line) + [eos_patch(patch_size)]
    return (m + b)[:patch_length]


def patchify(
    abc_text: str,
    *,
    patch_size: int = PATCH_SIZE,
    patch_length: int | None = None,
    rng: random.Random | None = None,
    on_bad_line: str = "raise",
) -> torch.Tensor:
    """Interleaved ABC -> LongTensor [P, patch_size], as upstream's training patchilizer.

    Stream tags are added when the body has none (fine-tune/pretrain data) and kept when it
    has them (DPO data, generated pieces).  With ``patch_length`` the piece is cropped like
    upstream training (random head/tail/middle from ``rng``, default seeded 0); without, the
    whole piece is returned (BOS ... EOS), which is what summed log-probabilities score.
    """
    if on_bad_line not in ("raise", "drop"):
        raise ValueError(f"on_bad_line must be 'raise' or 'drop', got {on_bad_line!r}")
    meta, body = split_piece(abc_text)
    if patch_length is None:
        patches = (
            [bos_patch(patch_size)]
            + metadata_patches(meta, patch_size)
            + body_patches(body, patch_size, on_bad_line=on_bad_line)
            + [eos_patch(patch_size)]
        )
    else:
        patches = crop_patches(meta, body, patch_length, rng or random.Random(0), patch_size, on_bad_line)
    return to_ids(patches, patch_size)


def encode_context(meta: list[str], body: list[str], patch_size: int = PATCH_SIZE) -> torch.Tensor:
    """Generation context: BOS patch + metadata + complete body patches (no EOS patch)."""
    patches = [bos_patch(patch_size)] + metadata_patches(meta, patch_size) + body_patches(body, patch_size)
    return to_ids(patches, patch_size)


def decode_patch(ids) -> str:
    """Characters of one patch up to its first EOS char (upstream ``patch2chars``).

    Unlike upstream, pad/BOS ids before the EOS are skipped (upstream's guard is a no-op
    and writes chr(0)/chr(1) into the text).
    """
    out = []
    for i in (int(x) for x in ids):
        if i == EOS_ID:
            break
        if i > EOS_ID:
            out.append(chr(i))
    return "".join(out)


def unpatchify(patches: torch.Tensor) -> str:
    """[P, 16] ids -> text: BOS/EOS patches dropped, each patch read up to its EOS char."""
    text = []
    for row in patches.tolist():
        if row[0] == BOS_ID and (row[1] == EOS_ID or row[-1] == EOS_ID and all(x == BOS_ID for x in row[:-1])):
            continue
        text.append(decode_patch(row))
    return "".join(text)
