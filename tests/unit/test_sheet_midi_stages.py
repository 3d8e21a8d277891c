"""A sheet folder (ABC here) declared in params goes through ingest into abc_finetune's training items,
while every MIDI-reading stage skips its ABC-only pieces (``midi: null``) and says so."""

import json
from pathlib import Path

import numpy as np
import pytest

import pipeline.aria.tokenize
import pipeline.gnm.tokenize
from pipeline.aria.pieces import read_pieces
from pipeline.aria.tokenize import tokenize_corpus as aria_tokenize
from pipeline.config import load_section
from pipeline.data.ingest import ingest_corpus
from pipeline.data.jsonl import read_jsonl
from pipeline.data.render_corpus import plan_renders, render_corpus
from pipeline.data.sources import list_sources
from pipeline.gnm.tokenize import tokenize_corpus as gnm_tokenize
from pipeline.notagen.data import PieceItems, load_pieces
from pipeline.notagen.tokenize import tokenize_rows, write_store
from pipeline.orchestration.runners import shards
from pipeline.params.aria import AriaTokenizeParams
from pipeline.params.data import IngestParams, RenderAudioParams, SheetSource
from pipeline.params.gnm import GnmTokenizeParams
from pipeline.params.notagen import AbcTokenizeParams

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

GOOD = "X:1\nT:Good\nL:1/8\nM:4/4\nK:C\nV:1\nCDEF GABc|cBAG FEDC|CEGc cGEC|C8|]\n"
ODD = "X:1\nT:Odd\nL:1/8\nM:4/0\nK:C\nV:1\nCDEF GABc|cBAG FEDC|]\n"  # music21 cannot read M:4/0
SKIP = {"id": "tunes-folk_trad_voice_odd", "reason": "abc_only"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A repo-shaped folder whose params.yaml declares a ``kind: sheet`` source, ingested."""
    root = tmp_path_factory.mktemp("repo")
    tunes = root / "sheets/folk/trad/voice"
    tunes.mkdir(parents=True)
    (tunes / "good.abc").write_text(GOOD)
    (tunes / "odd.abc").write_text(ODD)
    (root / "params.yaml").write_text(
        "ingest:\n  sources:\n    - {kind: sheet, path: sheets, name: tunes}\n  split: {val: 0, test: 0}\n"
    )
    p = load_section("ingest", root / "params.yaml")
    assert isinstance(p, IngestParams) and isinstance(p.sources[0], SheetSource)
    cands, problems = list_sources(p.sources, root)
    for d in ("data/ingest", "reports/data"):
        (root / d).mkdir(parents=True)
    ingest_corpus(cands, problems, p, 42, root / "data/ingest", root / "reports/data")
    return root


@pytest.fixture
def serial_shards(monkeypatch):
    """The stages' Prefect map run in this process, shard by shard (no flow, no server)."""

    def run(task, items, size, **kw):
        return [r for shard in shards(items, size) for r in task.fn(shard, **kw)]

    for module in (pipeline.aria.tokenize, pipeline.gnm.tokenize):
        monkeypatch.setattr(module, "map_shards", run)


def index(root: Path) -> list[dict]:
    return read_jsonl(root / "data/ingest/index.jsonl")


def test_sheet_source_reaches_finetune_items(repo, tmp_path):
    rows = index(repo)
    assert {r["id"]: bool(r["midi"]) for r in rows} == {"tunes-folk_trad_voice_good": True, SKIP["id"]: False}
    p = AbcTokenizeParams()
    write_store(tmp_path, rows, tokenize_rows(rows, p, str(repo / "data/ingest")), p.patch_size)
    pieces = load_pieces(tmp_path, "train", keep_prompt=True)
    assert sorted(pc.id for pc in pieces) == sorted(r["id"] for r in rows)  # the ABC-only piece too
    assert {pc.prompt for pc in pieces} == {("folk", "trad", "voice")}
    items = PieceItems(pieces, 64, "shift3")
    ok, bad = items.check()
    assert len(ok) == 2 and not bad
    assert all(items.item(j, np.random.default_rng(j)).shape[1] == 16 for j in range(2))


def test_aria_tokenize_and_pieces_skip_abc_only_rows(repo, tmp_path, serial_shards):
    out, report = tmp_path / "tokens", tmp_path / "report"
    out.mkdir(), report.mkdir()
    _, stats = aria_tokenize(index(repo), repo / "data/ingest", AriaTokenizeParams(), 16, out, report)
    assert stats["skipped"] == 1 and stats["tokenized"] == 1 and stats["rejected"] == 0
    assert [r | {"detail": None} for r in read_jsonl(out / "skipped.jsonl")] == [SKIP | {"detail": None}]
    assert json.loads((report / "stats.json").read_text())["skipped"] == 1
    pieces, problems = read_pieces(repo / "data/ingest", index(repo))
    assert [pc.source for pc in pieces] == ["tunes-folk_trad_voice_good"]
    (problem,) = problems
    assert problem["reason"] == "abc_only" and problem["split"] == "train"
    assert problem["detail"].startswith("unparseable_score")


def test_gnm_tokenize_skips_abc_only_rows(repo, tmp_path, serial_shards):
    _, stats = gnm_tokenize(index(repo), GnmTokenizeParams(composers=[]), 42, repo / "data/ingest", tmp_path, 16)
    assert stats["skipped"] == 1 and stats["tokenized"] + stats["rejected"] == 1
    assert [r["id"] for r in read_jsonl(tmp_path / "skipped.jsonl")] == [SKIP["id"]]


def test_render_audio_skips_abc_only_rows(repo, tmp_path):
    p = RenderAudioParams(conditions={"dry": {}}, max_seconds=2)
    jobs = plan_renders(p, repo)
    assert [j["id"] for j in jobs] == ["tunes-folk_trad_voice_good__dry", SKIP["id"]]
    metrics = render_corpus(jobs, p, tmp_path / "audio", tmp_path, repo)
    assert metrics["recordings"] == 1 and metrics["rejected"] == 0 and metrics["skipped"] == 1
    (skipped,) = read_jsonl(tmp_path / "audio/skipped.jsonl")
    assert skipped["id"] == SKIP["id"] and skipped["reason"] == "abc_only"
    assert read_jsonl(tmp_path / "audio/rejected.jsonl") == []
