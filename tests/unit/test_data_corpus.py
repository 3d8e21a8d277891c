"""The shared data stages' work, run in-process without Prefect: ingest -> render -> segment on a
tiny MIDI folder, sharding that does not change a byte, and pack over every tokenizer."""

import json
import shutil
from pathlib import Path

import midi_fixtures as fx
import pytest

from pipeline.data.guards import EmptySplitError
from pipeline.data.ingest import ingest_corpus
from pipeline.data.jsonl import read_jsonl
from pipeline.data.manifests import load_cuts
from pipeline.data.pack import pack_tokenizers
from pipeline.data.render_corpus import plan_renders, render_corpus, render_jobs
from pipeline.data.segment_corpus import CUTS, segment_corpus, segment_recordings
from pipeline.data.sources import list_sources
from pipeline.data.token_store import write_split
from pipeline.orchestration.runners import shards
from pipeline.params.data import IngestLimits, IngestParams, MidiDirSource, RenderAudioParams, SegmentParams
from pipeline.params.pack import PackParams

pytestmark = pytest.mark.unit


def one_by_one(fn):
    """What the stages' Prefect map does: ``fn`` over shards of one item, results in input order."""
    return lambda items, **kw: [r for shard in shards(items, 1) for r in fn(shard, **kw)]


def files(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def ingest(root: Path) -> dict:
    midis = root / "midis"
    (midis / "a").mkdir(parents=True)
    (midis / "b").mkdir()
    fx.long_piece(midis / "a", n=40)
    fx.long_piece(midis / "b", n=48)
    shutil.copy(midis / "a/long_piece.mid", midis / "a_copy.mid")  # same notes: a duplicate
    fx.bad_header(midis)
    p = IngestParams(sources=[MidiDirSource(name="mine", path=str(midis))], limits=IngestLimits(min_notes=4))
    cands, problems = list_sources(p.sources, root)
    for d in ("data/ingest", "reports/data"):
        (root / d).mkdir(parents=True)
    return ingest_corpus(cands, problems, p, 7, root / "data/ingest", root / "reports/data")


def test_ingest_render_segment(tmp_path):
    metrics = ingest(tmp_path)
    assert metrics == {"pieces": 2, "hours": metrics["hours"], "notes": 88, "rejected": 1, "duplicates": 1}
    data = tmp_path / "data/ingest"
    dup = read_jsonl(data / "duplicates.jsonl")[0]
    assert not (data / "midi" / f"{dup['id']}.mid").exists()  # only the first copy's file stays
    assert read_jsonl(data / "rejected.jsonl")[0]["reason"] == "unreadable"
    assert json.loads((tmp_path / "reports/data/metrics.json").read_text()) == metrics

    p = RenderAudioParams(conditions={"dry": {}, "hall": {"reverb": 0.5}}, max_seconds=4)
    jobs = plan_renders(p, tmp_path)
    assert len(jobs) == 4 and {j["condition"] for j in jobs} == {"dry", "hall"}
    outs = []
    for name, render in (("serial", render_jobs), ("sharded", one_by_one(render_jobs))):
        out, rep = tmp_path / name / "audio", tmp_path / name / "report"
        out.mkdir(parents=True), rep.mkdir()
        m = render_corpus(jobs, p, out, rep, tmp_path, render=render)
        outs.append(files(out) | files(rep))
    assert m["recordings"] == 4 and m["rejected"] == 0 and m["conditions"] == ["dry", "hall"]
    assert "wall_s" not in json.dumps(m)  # wall-clock goes to environment.json, not to hashed outputs
    assert outs[0] == outs[1]  # sharding changes nothing
    (tmp_path / "data/render_audio").mkdir()
    render_corpus(jobs, p, tmp_path / "data/render_audio", tmp_path / "serial/report", tmp_path)
    cut = next(iter(load_cuts(tmp_path / CUTS)))
    assert cut.supervisions[0].custom["midi"].startswith("data/ingest/midi/")  # repo-relative

    seg = SegmentParams(min_s=1.0, max_s=1.5, drop_under_s=0.5)
    outs = []
    for name, segment in (("serial", segment_recordings), ("sharded", one_by_one(segment_recordings))):
        out = tmp_path / name / "segment"
        out.mkdir()
        stats = segment_corpus(load_cuts(tmp_path / CUTS), seg, 7, out, tmp_path, segment=segment)
        outs.append(files(out))
    assert outs[0] == outs[1] and stats["segments"] >= 4 * 3
    index = read_jsonl(tmp_path / "serial/segment/index.jsonl")
    assert all((tmp_path / "serial/segment/midi" / Path(r["midi"]).name).is_file() for r in index)
    assert index[0]["midi"].startswith("data/segment/midi/")


def tokens(root: Path, name: str, train: int) -> None:
    src = root / "data/tokens" / name
    write_split(src / "train", [({"id": f"t{i}"}, list(range(1, 6 + i))) for i in range(train)])
    write_split(src / "val", [({"id": "v0"}, [1, 2, 3])])
    (src / "tokenizer.json").write_text(
        json.dumps({"name": name, "config_hash": "h" + name, "vocab_size": 16, "pad_id": 0, "bos_id": 1, "eos_id": 2})
    )


def test_pack_every_tokenizer(tmp_path):
    tokens(tmp_path, "aria", 3)
    tokens(tmp_path, "abc", 2)
    inputs, ids = pack_tokenizers(PackParams(tokenizers=["aria", "abc"], seq_len=4), tmp_path, tmp_path / "out")
    assert ids == {
        "aria": {"tokenizer": "aria", "config_hash": "haria", "vocab_size": 16},
        "abc": {"tokenizer": "abc", "config_hash": "habc", "vocab_size": 16},
    }
    assert "data/tokens/abc/tokenizer.json" in inputs and "data/tokens/aria/train" in inputs
    meta = json.loads((tmp_path / "out/aria/meta.json").read_text())
    assert meta["splits"]["train"]["shape"] == [5, 4] and meta["splits"]["train"]["pieces"] == 3  # 18 tokens
    with pytest.raises(FileNotFoundError, match="pack.tokenizers names 'gnm'"):
        pack_tokenizers(PackParams(tokenizers=["aria", "gnm"]), tmp_path, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()  # checked before any work
    tokens(tmp_path, "empty", 0)
    with pytest.raises(EmptySplitError, match="data/tokens/empty/train is empty"):
        pack_tokenizers(PackParams(tokenizers=["empty"]), tmp_path, tmp_path / "out3")
