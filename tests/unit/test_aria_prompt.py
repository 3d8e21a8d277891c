"""A continuation prompt's instrument prefix is the reader's (ariautils'), however short the prompt.

ariautils lists every channel with a program change in the prefix, notes or not, and drums only
when drum notes are tokenised (upstream ``get_inference_prompt`` cuts the notes, not the program
changes). References: tests/unit/data/aria_ariautils/references.json (see its README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.aria.prompt import prompt_tokens, read_prompt
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.notes import DRUM

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

DATA = Path(__file__).parent / "data" / "aria_ariautils"
REFS = json.loads((DATA / "references.json").read_text())["files"]
FILES = sorted(k for k in REFS if not k.startswith("golden/"))  # golden cases are rebuilt elsewhere
TOK = AbsTokenizer()


def prefix(seq: list) -> list:
    return sorted(list(t) for t in seq[: seq.index("<S>")])


@pytest.mark.parametrize("key", FILES)
def test_whole_prompt_is_the_file_without_eos_and_its_prefix_is_ariautils(key):
    piece = read_prompt(DATA / "midi" / key)
    seq = prompt_tokens(TOK, piece, 10**6)
    assert seq == TOK.tokenize(DATA / "midi" / key, add_eos_tok=False)
    assert prefix(seq) == REFS[key]["prefix"]


@pytest.mark.parametrize("key", FILES)
def test_a_one_onset_prompt_keeps_every_programmed_channel_in_its_prefix(key):
    piece = read_prompt(DATA / "midi" / key)
    seq = prompt_tokens(TOK, piece, 0.0)  # only the notes at the first onset
    kept = [n for n in piece.notes if n.start_ms <= 0]
    body = seq[seq.index("<S>") + 1 :]
    assert sum(isinstance(t, tuple) and t[0] == "onset" for t in body) <= len(kept)  # the cut did cut
    drums = any(n.family == DRUM for n in kept)
    want = [p for p in REFS[key]["prefix"] if p[2] != DRUM or drums]
    assert prefix(seq) == want


def test_prefixes_include_families_without_notes_in_the_prompt():
    """The files where a plain Piece (families of the notes) gave a shorter prefix than ariautils."""
    for key, missing in [("fuzz/programs_0.mid", "organ"), ("fuzz/mixed_0.mid", "piano")]:
        piece = read_prompt(DATA / "midi" / key)
        assert missing not in {n.family for n in piece.notes}
        assert ("prefix", "instrument", missing) in prompt_tokens(TOK, piece, 1.0)
