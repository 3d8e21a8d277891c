"""NotaGen's training patchilizer: the patches upstream builds from interleaved ABC."""

from __future__ import annotations

import random

import pytest
import torch

pytestmark = pytest.mark.unit

from pipeline.notagen.patchilizer import (  # noqa: E402
    PatchifyError,
    crop_patches,
    decode_patch,
    patchify,
    split_bars,
    split_piece,
    unpatchify,
)

PIECE = (
    "%Baroque\n%Bach, Johann Sebastian\n%Choral\nL:1/8\nM:4/4\nK:A\n"
    'V:1 nm="S"\nV:2\n'
    "[V:1]c2 B2 A2 B2|[V:2]A2 G2 E2 E2|\n"
    "[V:1]|:c2 B2 A2 B2|[V:2]|:A2 G2 E2 E2:|\n"
    "\n"  # empty lines are dropped
    "[V:1]c8|][V:2]A8|]\n"
)
E, P = "\x02", "\x00"
# Worked out by hand from the spec's rules (section 2), one row per patch.
EXPECTED = [
    "\x01" * 15 + E,
    "%Baroque\n" + E + P * 6,
    "%Bach, Johann Se",
    "bastian\n" + E + P * 7,
    "%Choral\n" + E + P * 7,
    "L:1/8\n" + E + P * 9,
    "M:4/4\n" + E + P * 9,
    "K:A\n" + E + P * 11,
    'V:1 nm="S"\n' + E + P * 4,
    "V:2\n" + E + P * 11,
    "[r:0/2][V:1]c2 B",  # barlines glue to the START of the next bar
    "2 A2 B2" + E + P * 8,
    "|[V:2]A2 G2 E2 E",  # the trailing "|\n" is merged into the last bar
    "2|\n" + E + P * 12,
    "[r:1/1][V:1]" + E + P * 3,  # a left repeat right after the tag: a bare-prefix bar
    "|:c2 B2 A2 B2" + E + P * 2,
    "|[V:2]" + E + P * 9,
    "|:A2 G2 E2 E2:|\n",  # exactly 16 chars: no EOS char at all
    "[r:2/0][V:1]c8" + E + P,
    "|][V:2]A8|]\n" + E + P * 3,
    "\x01" + E * 15,
]


def rows(t: torch.Tensor) -> list[str]:
    return ["".join(map(chr, r)) for r in t.tolist()]


def test_patches_match_upstream_rules():
    ids = patchify(PIECE)
    assert ids.dtype == torch.long and ids.shape == (len(EXPECTED), 16)
    assert rows(ids) == EXPECTED


def test_existing_stream_tags_are_kept_not_doubled():
    tagged = unpatchify(patchify(PIECE))
    assert tagged.count("[r:") == 3
    assert torch.equal(patchify(tagged), patchify(PIECE))
    odd = PIECE.replace("[V:1]c8|]", "[r:9/9][V:1]c8|]")  # partly tagged: retagged from scratch
    assert "[r:2/0][V:1]c8" in unpatchify(patchify(odd))


def test_split_bars_quirks():
    assert split_bars("[r:0/3][V:1]GABc dBGB|[V:2]G,,2B,,2 D,2G,2|\n") == [
        "[r:0/3][V:1]GABc dBGB",
        "|[V:2]G,,2B,,2 D,2G,2|\n",
    ]
    assert split_bars("[V:1]abc\n") == ["[V:1]abc\n"]
    with pytest.raises(PatchifyError):  # upstream: IndexError swallowed, rest of piece lost
        split_bars("|abc\n")


def test_bad_line_raises_or_drops_like_upstream():
    bad = PIECE.replace("[V:1]c8|][V:2]A8|]\n", "[V:1]x8|]|[V:2]x8|]\n[V:1]c8|][V:2]A8|]\n")
    with pytest.raises(PatchifyError, match="cannot pair"):
        patchify(bad)
    dropped = unpatchify(patchify(bad, on_bad_line="drop"))
    assert "c8" not in dropped and "x8" not in dropped and "[r:1/" in dropped


def test_named_errors():
    with pytest.raises(PatchifyError, match="128-id"):
        patchify(PIECE.replace("Bach", "Bäch"))
    with pytest.raises(PatchifyError, match="tune-body"):
        patchify("X:1\nL:1/8\nK:C\n")


def test_decode_patch_stops_at_eos_and_skips_pad():
    assert decode_patch([ord("a"), 0, ord("b"), 2, ord("c")]) == "ab"


def long_piece(n: int) -> str:
    head = "%Romantic\nL:1/8\nK:C\nV:1\n"
    return head + "".join("[V:1]cdef gabc'|\n" for _ in range(n))


def test_crop_keeps_metadata_and_cuts_at_line_starts():
    meta, body = split_piece(long_piece(30))
    seen = set()
    for seed in range(40):
        out = crop_patches(meta, body, 24, random.Random(seed))
        assert len(out) <= 24
        assert out[0] == "\x01" * 15 + "\x02" and out[1].startswith("%Romantic")
        first_body = out[5]
        assert first_body.startswith("[r:")  # a line start, with its ORIGINAL tag
        start = int(first_body[3 : first_body.index("/")])
        kind = "head" if start == 0 else "tail" if out[-1] == "\x01" + "\x02" * 15 else "middle"
        if kind == "tail":
            assert len(out) < 24 or out[-1] == "\x01" + "\x02" * 15
        seen.add(kind)
    assert seen == {"head", "tail", "middle"}


def test_patchify_crop_is_seeded():
    a = patchify(long_piece(30), patch_length=24, rng=random.Random(3))
    b = patchify(long_piece(30), patch_length=24, rng=random.Random(3))
    assert torch.equal(a, b) and a.shape[0] <= 24
    assert patchify(long_piece(3), patch_length=64).shape[0] == patchify(long_piece(3)).shape[0]
