"""Token stores (flat int32 + index, memmap reads), packing, and the tokenize quarantine."""

from __future__ import annotations

import json

import midi_fixtures as mf
import numpy as np
import pytest

from pipeline.data.jsonl import read_jsonl
from pipeline.data.token_store import (
    DTYPE,
    TokenStore,
    accepted,
    pack,
    pack_store,
    quarantined,
    reason_of,
    write_dataset,
    write_split,
)

pytestmark = pytest.mark.unit

PAD = 2


def _pieces():
    return [np.arange(1, 6), np.arange(10, 13), np.array([], dtype=np.int64), np.arange(20, 30)]


def test_write_read_round_trip_with_memmap(tmp_path):
    pieces = _pieces()
    labels = [{"id": f"p{i}", "composer": "bach"} for i in range(len(pieces))]
    info = write_split(tmp_path / "train", zip(labels, pieces))
    assert info == {"pieces": 4, "tokens": 18}
    assert (tmp_path / "train" / "tokens.bin").stat().st_size == 18 * 4
    store = TokenStore(tmp_path / "train")
    assert isinstance(store.tokens, np.memmap) and store.tokens.dtype == DTYPE
    assert len(store) == 4 and store.ids == ["p0", "p1", "p2", "p3"]
    for got, want in zip(store, pieces):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(store.find("p3"), np.arange(20, 30))
    assert store.labels[1] == {"id": "p1", "composer": "bach"}
    index = read_jsonl(tmp_path / "train" / "index.jsonl")
    assert [(r["offset"], r["length"]) for r in index] == [(0, 5), (5, 3), (8, 0), (8, 10)]
    flat = np.memmap(tmp_path / "train" / "tokens.bin", dtype=np.int32, mode="r")
    np.testing.assert_array_equal(flat[5:8], [10, 11, 12])


def test_empty_split_and_size_mismatch(tmp_path):
    write_split(tmp_path / "val", [])
    assert len(TokenStore(tmp_path / "val")) == 0
    write_split(tmp_path / "bad", [({"id": "a"}, [1, 2, 3])])
    with open(tmp_path / "bad" / "tokens.bin", "ab") as fh:
        fh.write(b"\0\0\0\0")
    with pytest.raises(ValueError, match="index says"):
        TokenStore(tmp_path / "bad")


def test_pack_concat_shapes_and_padding():
    pieces = _pieces()  # 18 tokens
    out = pack(pieces, seq_len=8, pad_id=PAD, mode="concat")
    assert out.shape == (3, 8) and out.dtype == DTYPE
    np.testing.assert_array_equal(out.reshape(-1)[:18], np.concatenate(pieces))
    assert (out.reshape(-1)[18:] == PAD).all() and (out.reshape(-1)[18:]).size == 6
    exact = pack([np.arange(4), np.arange(4)], seq_len=4, pad_id=PAD, mode="concat")
    assert exact.shape == (2, 4) and PAD not in exact[:, 3]
    assert pack([], seq_len=4, pad_id=PAD).shape == (0, 4)


def test_pack_separate_truncates_and_pads():
    out = pack(_pieces(), seq_len=8, pad_id=PAD, mode="separate")
    assert out.shape == (4, 8)
    np.testing.assert_array_equal(out[0], [1, 2, 3, 4, 5, PAD, PAD, PAD])
    assert (out[2] == PAD).all()
    np.testing.assert_array_equal(out[3], np.arange(20, 28))  # truncated to seq_len


def test_pack_store_writes_loadable_npy(tmp_path):
    write_split(tmp_path / "train", [({"id": f"p{i}"}, p) for i, p in enumerate(_pieces())])
    store = TokenStore(tmp_path / "train")
    stats = pack_store(store, tmp_path / "train.npy", 8, PAD, "separate")
    arr = np.load(tmp_path / "train.npy", mmap_mode="r")
    assert arr.shape == (4, 8) and arr.dtype == DTYPE
    assert stats["truncated_pieces"] == 1 and stats["dropped_tokens"] == 2
    assert stats["tokens"] + stats["pad_tokens"] == arr.size
    with pytest.raises(ValueError, match="pack mode"):
        pack(_pieces(), 8, PAD, "ragged")


def test_write_dataset_splits_and_quarantine(tmp_path):
    rows = [
        {"id": "a", "split": "train", "composer": "bach"},
        {"id": "b", "split": "val"},
        {"id": "c", "split": "train"},
    ]
    results = [
        accepted(rows[0], [0, 1, 2]),
        accepted(rows[1], [3]),
        quarantined(rows[2], ValueError("x.mid: contains no notes")),
    ]
    stats = write_dataset(tmp_path, rows, results, vocab_size=8)
    assert stats["splits"]["train"]["tokens"] == 3 and stats["splits"]["test"]["pieces"] == 0
    assert stats["rejects_by_reason"] == {"no_notes": 1} and stats["vocab_use"] == 0.5
    assert read_jsonl(tmp_path / "rejected.jsonl")[0]["id"] == "c"
    assert TokenStore(tmp_path / "train").labels[0]["composer"] == "bach"
    with pytest.raises(RuntimeError, match="no tokenize result"):
        write_dataset(tmp_path / "again", rows, results[:2], vocab_size=8)


def test_tokenize_task_quarantines_corrupt_midi(tmp_path):
    from pipeline.aria.tokenize import tokenize_rows
    from pipeline.aria.tokenizer import AbsTokenizer

    midi = tmp_path / "midi"
    midi.mkdir()
    mf.tempo_changes(midi)
    mf.multi_instrument(midi)
    (midi / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    names = {"tempo_changes.mid": "good1", "multi_instrument.mid": "good2", "corrupt.mid": "bad"}
    files = sorted(p.name for p in midi.glob("*.mid"))
    assert set(files) == set(names), files
    rows = [{"id": names[f], "midi": f"midi/{f}", "split": "train", "composer": "bach"} for f in files]
    rows.append({"id": "gone", "midi": "midi/missing.mid", "split": "val", "composer": None})
    tok = AbsTokenizer()
    results = tokenize_rows(rows, dict(tok.config), ["composer"], str(tmp_path))
    by_id = {r["id"]: r for r in results}
    assert len(results) == len(rows)
    assert not by_id["bad"]["ok"] and by_id["bad"]["reason"] == "unreadable" and by_id["bad"]["detail"]
    assert not by_id["gone"]["ok"] and by_id["gone"]["reason"] == "missing_file"
    for good in ("good1", "good2"):
        ids = by_id[good]["ids"]
        assert by_id[good]["ok"] and tok.dim_id not in ids and ids[-1] == tok.eos_id
        assert tok.encode([("prefix", "composer", "bach")])[0] in ids
    stats = write_dataset(tmp_path / "out", rows, results, tok.vocab_size)
    assert stats["rejects_by_reason"] == {"missing_file": 1, "unreadable": 1}
    rejected = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert {r["id"] for r in rejected} == {"bad", "gone"}
    assert json.loads(json.dumps(stats))["tokenized"] == 2


def test_reason_of_falls_back_to_exception_name():
    assert reason_of(KeyError("weird")) == "key_error"
    assert reason_of("pitch out of range: 3 notes") == "pitch_out_of_range"


def test_items_of_any_shape_round_trip(tmp_path):
    from pipeline.data.token_store import TokenStore, write_split

    items = [
        ({"id": "flat"}, np.arange(5)),
        ({"id": "compound"}, np.arange(18).reshape(3, 6)),  # [notes, fields]
        ({"id": "codes"}, np.arange(40).reshape(4, 10)),  # [n_q, frames]
        ({"id": "patches"}, np.arange(32).reshape(2, 16)),
    ]  # [P, 16]
    info = write_split(tmp_path / "train", items)
    assert info == {"pieces": 4, "tokens": 5 + 18 + 40 + 32}
    store = TokenStore(tmp_path / "train")
    for (_label, arr), got in zip(items, store):
        assert got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)
    assert store.shapes == [(5,), (3, 6), (4, 10), (2, 16)]
    assert "shape" not in store.index[0]  # flat stores keep their old index bytes


def test_shape_that_disagrees_with_length_is_an_error(tmp_path):
    import json

    from pipeline.data.token_store import TokenStore, write_split

    write_split(tmp_path / "s", [({"id": "a"}, np.zeros((2, 3)))])
    row = json.loads((tmp_path / "s/index.jsonl").read_text())
    row["shape"] = [4, 3]
    (tmp_path / "s/index.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match="shape and length disagree"):
        TokenStore(tmp_path / "s")
