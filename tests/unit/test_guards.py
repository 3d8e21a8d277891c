"""The empty-split guard: one line naming the split and the rejection report, classified as a
bad input so ``run_stage`` prints it without a traceback."""

from __future__ import annotations

import pytest

from pipeline.data.guards import EmptySplitError, count_split, require_pieces
from pipeline.orchestration.stage import is_bad_input, one_line

pytestmark = pytest.mark.unit


def test_nonempty_passes_through():
    assert require_pieces("data/tokens/aria/train", 3) == 3


def test_empty_split_names_split_and_report():
    with pytest.raises(EmptySplitError) as info:
        require_pieces("data/tokens/aria/train", 0, "data/tokens/aria/rejected.jsonl")
    msg = one_line(info.value)
    assert "data/tokens/aria/train is empty (0 pieces)" in msg
    assert "data/tokens/aria/rejected.jsonl" in msg
    assert msg.startswith("EmptySplitError:") and "\n" not in msg


def test_default_report_is_the_ingest_rejections():
    with pytest.raises(EmptySplitError, match="data/ingest/rejected.jsonl"):
        require_pieces("data/ingest/index.jsonl train split", 0)


def test_is_a_bad_input_for_run_stage():
    with pytest.raises(ValueError) as info:
        require_pieces("x", 0)
    assert is_bad_input(info.value)


def test_count_split():
    rows = [{"split": "train"}, {"split": "val"}, {"split": "train"}, {}]
    assert count_split(rows, "train") == 2 and count_split(rows, "test") == 0


def test_pack_stops_on_an_empty_train_split(tmp_path):
    import json
    import logging
    from types import SimpleNamespace

    from pipeline.data.pack import pack_tokenizer
    from pipeline.data.token_store import write_split

    src = tmp_path / "data/tokens/aria"
    for split in ("train", "val"):
        write_split(src / split, [])
    (src / "tokenizer.json").write_text(
        json.dumps({"name": "aria-abs", "config_hash": "x", "vocab_size": 10, "pad_id": 0, "bos_id": 1, "eos_id": 2})
    )
    p = SimpleNamespace(seq_len=8, mode="concat")
    with pytest.raises(EmptySplitError, match=r"data/tokens/aria/train is empty .*data/tokens/aria/rejected.jsonl"):
        pack_tokenizer(src, tmp_path / "out", p, logging.getLogger("t"))
