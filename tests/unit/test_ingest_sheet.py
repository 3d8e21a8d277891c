"""Sheet-music sources (MusicXML / ABC folders) through ingest into abc_tokenize, compared with upstream
NotaGen's own xml2abc and preprocessing outputs (tests/unit/data/sheet/upstream, see its README)."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.data.ingest import ingest_corpus, midi_rows
from pipeline.data.jsonl import read_jsonl
from pipeline.data.sheet_convert import XML2ABC
from pipeline.data.sources import list_sources
from pipeline.notagen.abc_notation import AbcError
from pipeline.notagen.abc_prep import standard_to_interleaved
from pipeline.notagen.data import PieceItems, load_pieces
from pipeline.notagen.parity import aligned
from pipeline.notagen.tokenize import tokenize_rows, write_store
from pipeline.params.data import IngestParams, SheetSource
from pipeline.params.notagen import AbcTokenizeParams

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

DATA = Path(__file__).parent / "data" / "sheet"
UPSTREAM = DATA / "upstream"
# ingest id -> upstream fixture name
PIECES = {
    "mine-baroque_bach_johann_sebastian_choral_bwv66.6": "bwv66.6",
    "mine-romantic_schumann_robert_keyboard_two_parts": "two-parts",
    "mine-classical_haydn_joseph_chamber_two_voices": "two-voices",
    "mine-folk_traditional_voice_reel": "reel",
}


def ingest(root: Path, src: SheetSource, out: Path) -> tuple[list[dict], list[dict]]:
    cands, problems = list_sources([src], root)
    p = IngestParams(sources=[src])
    ingest_corpus(cands, problems, p, 42, out / "data", out / "report")
    return read_jsonl(out / "data" / "index.jsonl"), read_jsonl(out / "data" / "rejected.jsonl")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    out = tmp_path_factory.mktemp("sheet")
    index, rejected = ingest(DATA, SheetSource(path="folders", name="mine"), out)
    return out / "data", index, rejected


def test_vendored_xml2abc_is_notagens_copy():
    digest = hashlib.sha256(XML2ABC.read_bytes()).hexdigest()
    assert digest == "ec2583cff9f2c0201cffe7be9924a0d96e68338af75c1360f02f73e0e9a3b11c"


def test_ingest_abc_equals_upstream_xml2abc(ingested):
    data, index, _ = ingested
    rows = {r["id"]: r for r in index}
    assert set(rows) == set(PIECES)
    for pid, name in PIECES.items():
        row = rows[pid]
        assert row["abc"] == f"abc/{pid}.abc" and row["abc_only"] is None
        assert (data / row["midi"]).is_file(), "MusicXML/ABC pieces keep MIDI for the other families"
        if name != "reel":
            assert row["abc_from"] == "xml2abc"
            assert (data / row["abc"]).read_text() == (UPSTREAM / f"{name}.abc").read_text()
    assert rows["mine-folk_traditional_voice_reel"]["abc_from"] == "abc"


def test_labels_come_from_folder_names_as_written(ingested):
    _, index, _ = ingested
    bach = next(r for r in index if r["id"].endswith("bwv66.6"))
    assert bach["prompt"] == {"period": "Baroque", "composer": "Bach, Johann Sebastian", "instrumentation": "Choral"}
    assert (bach["composer"], bach["period"]) == ("bach, johann sebastian", "baroque")


def test_unconvertible_file_is_quarantined_with_reason(ingested):
    _, _, rejected = ingested
    assert [(r["source_id"], r["reason"]) for r in rejected] == [
        ("Romantic/Schumann, Robert/Keyboard/broken.xml", "xml2abc_failed")
    ]
    assert "ParseError" in rejected[0]["detail"]


def test_abc_reaching_abc_tokenize_equals_upstream_interleaved(ingested):
    data, index, _ = ingested
    results = tokenize_rows(index, AbcTokenizeParams(), str(data))
    assert all(r["ok"] for r in results), [r.get("reason") for r in results]
    for r in results:
        expected = (UPSTREAM / f"{PIECES[r['id']]}.interleaved.abc").read_text()
        row = next(x for x in index if x["id"] == r["id"])
        prompt = "".join(f"%{row['prompt'][k]}\n" for k in ("period", "composer", "instrumentation"))
        assert r["text"] == prompt + expected
    assert results[0]["text"].startswith("%Baroque\n%Bach, Johann Sebastian\n%Choral\n%%score [ 1 | 2 | 3 | 4 ]\n")


def test_metadata_labels_win_and_paths_stay_inside_the_root(tmp_path):
    root = tmp_path / "sheets"
    shutil.copytree(DATA / "folders", root)
    rows = [
        {"path": "Folk/Traditional/Voice/reel.abc", "composer": "O'Neill, Francis", "split": "test"},
        {"path": "../outside.xml", "composer": "x"},
    ]
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "outside.xml").write_text("<score-partwise/>")
    src = SheetSource(path="sheets", metadata="sheets/metadata.jsonl", name="mine")
    cands, problems = list_sources([src], tmp_path)
    reel = next(c for c in cands if c.id.endswith("reel"))
    assert reel.labels == {
        "period": "Folk",
        "composer": "O'Neill, Francis",
        "instrumentation": "Voice",
        "split": "test",
    }
    assert [(p.source_id, p.reason) for p in problems] == [("../outside.xml", "path_escape")]
    assert not any("outside" in c.path for c in cands)


def test_abc_book_gives_one_piece_per_tune_and_voiceless_tunes_get_v1(tmp_path):
    (tmp_path / "book.abc").write_text(
        "X:1\nT:A\nM:2/4\nL:1/8\nK:G\nGABc|d2B2|\n\nX:2\nT:B\nM:3/4\nL:1/8\nK:D\nD2F2A2|d6|]\n"
    )
    cands, problems = list_sources([SheetSource(path=".", name="b")], tmp_path)
    assert [(c.id, c.source_id, c.tune) for c in cands] == [
        ("b-book-x1", "book.abc#1", 1),
        ("b-book-x2", "book.abc#2", 2),
    ]
    assert not problems
    text = standard_to_interleaved("X:1\nT:A\nM:2/4\nL:1/8\nK:G\nGABc|d2B2|\n")
    assert text == "M:2/4\nL:1/8\nK:G\nV:1\n[V:1]GABc|\n[V:1]d2B2|\n"  # declared, as xml2abc writes one voice
    assert aligned(text) == (True, "")  # so upstream's check reads it back
    # a body opened by a bare V:1 but no declaration gets one too
    assert standard_to_interleaved("X:1\nL:1/8\nM:2/4\nK:C\nV:1\nCDEF|]\n") == "L:1/8\nM:2/4\nK:C\nV:1\n[V:1]CDEF|]\n"


def test_unequal_bar_counts_are_refused_like_upstream():
    text = "X:1\nL:1/8\nM:2/4\nK:C\nV:1\nV:2\nV:1\nCD EF|GA Bc|\nV:2\nC,4|\n"
    with pytest.raises(AbcError, match="unequal bar numbers|could not prepare"):  # upstream drops both
        standard_to_interleaved(text)


def test_tokenized_sheet_pieces_load_as_finetune_items(ingested, tmp_path):
    data, index, _ = ingested
    p = AbcTokenizeParams()
    write_store(tmp_path, index, tokenize_rows(index, p, str(data)), p.patch_size)
    pieces = [pc for split in ("train", "val", "test") for pc in load_pieces(tmp_path, split, keep_prompt=True)]
    assert sorted(pc.id for pc in pieces) == sorted(PIECES)
    assert {pc.prompt for pc in pieces} >= {("Baroque", "Bach, Johann Sebastian", "Choral")}
    items = PieceItems(pieces, 64, "shift3")
    ok, bad = items.check()
    assert len(ok) == len(PIECES) and not bad
    assert all(items.item(j, np.random.default_rng(j)).shape[1] == 16 for j in range(len(pieces)))


def test_piece_music21_cannot_read_is_kept_abc_only(tmp_path):
    (tmp_path / "odd.abc").write_text("X:1\nT:Odd\nL:1/8\nM:4/0\nK:C\nV:1\nCDEF GABc|cBAG FEDC|]\n")
    index, rejected = ingest(tmp_path, SheetSource(path=".", name="u"), tmp_path / "out")
    assert not rejected
    (row,) = index
    assert row["midi"] is None and row["abc_only"].startswith("unparseable_score")
    assert row["abc"] == "abc/u-odd.abc" and row["duration_s"] is None
    assert midi_rows(index) == ([], [{"id": "u-odd", "reason": "abc_only", "detail": row["abc_only"]}])
    (res,) = tokenize_rows(index, AbcTokenizeParams(), str(tmp_path / "out" / "data"))
    assert res["ok"] and res["text"].endswith("[V:1]CDEF GABc|\n[V:1]cBAG FEDC|]\n")
