"""The data half of the DAG through real ``dvc repro`` on the micro profile, in a temp copy."""

import json

import pytest
import soundfile as sf
import yaml
from lhotse import CutSet

from repo_copy import copy_repo, run, stages_run

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    dest = copy_repo(tmp_path_factory.mktemp("repo"))
    out = run(["dvc", "repro", "segment"], dest)
    assert stages_run(out.stdout) == ["ingest", "render_audio", "segment"]
    return dest


def test_ingest_outputs(repo):
    index = [json.loads(line) for line in (repo / "data/ingest/index.jsonl").read_text().splitlines()]
    assert len(index) >= 15
    assert {r["period"] for r in index} == {"baroque", "renaissance", "folk"}
    assert all((repo / "data/ingest" / r["midi"]).is_file() for r in index)
    assert all(r["split"] in ("train", "val", "test") for r in index)
    manifest = json.loads((repo / "data/ingest/manifest.json").read_text())
    assert manifest["params"]["base"]["seed"] == 42 and "music21" in manifest["packages"]
    stats = json.loads((repo / "reports/data/stats.json").read_text())
    assert stats["pieces"] == len(index) and stats["by_label"]["composer"]["bach"]


def test_audio_and_segments(repo):
    recs = list(CutSet.from_file(repo / "data/render_audio/cuts.jsonl.gz"))
    assert len(recs) == 8  # 4 pieces x 2 conditions
    info = sf.info(repo / recs[0].recording.sources[0].source)
    assert info.samplerate == 16000 and info.format == "FLAC"
    cuts = list(CutSet.from_file(repo / "data/segment/cuts.jsonl.gz"))
    assert cuts and all(c.duration <= 6.0 + 1e-6 for c in cuts)
    assert all((repo / c.custom["midi"]).is_file() for c in cuts)
    assert cuts[0].load_audio().shape[1] == pytest.approx(cuts[0].duration * 16000, abs=2)


def test_noop_then_only_segment_reruns(repo):
    out = run(["dvc", "repro", "segment"], repo)
    assert stages_run(out.stdout) == []
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["segment"]["drop_under_s"] = 2.5
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status", "segment"], repo).stdout
    assert status.startswith("segment:") and "modified:" in status
    assert "ingest:" not in status and "render_audio:" not in status
    out = run(["dvc", "repro", "segment"], repo)
    assert stages_run(out.stdout) == ["segment"]
