"""The whole DAG through real ``dvc repro`` on the micro profile, in a temp copy of the repo.

One repro builds everything (data, tokens, every family's models and reports, the site); the
tests then check the artifacts, that results pushed to a DVC remote pull into a fresh clone that
is up to date, that a second repro is a no-op, and that a param only ``segment`` reads reruns
only ``segment`` (test_zz_rerun.py: it edits params, so it runs after every reader).
"""

import json

import pytest
import soundfile as sf
from lhotse import CutSet
from repo_copy import run, stages_run

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def repo(micro_dag):
    return micro_dag.path


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_ingest_outputs(repo):
    index = read_jsonl(repo / "data/ingest/index.jsonl")
    assert len(index) >= 15
    assert {r["period"] for r in index} == {"baroque", "renaissance", "folk"}
    assert all((repo / "data/ingest" / r["midi"]).is_file() for r in index)
    assert all(r["split"] in ("train", "val", "test") for r in index)
    manifest = json.loads((repo / "data/ingest/manifest.json").read_text())
    assert manifest["params"]["base"]["seed"] == 42
    assert "music21" in json.loads((repo / "data/ingest/environment.json").read_text())["packages"]
    stats = json.loads((repo / "reports/data/stats.json").read_text())
    assert stats["pieces"] == len(index) and stats["by_label"]["composer"]["bach"]


def test_audio_and_segments(repo, monkeypatch):
    monkeypatch.chdir(repo)  # manifests hold repo-relative paths: stages run at the repo root
    recs = list(CutSet.from_file(repo / "data/render_audio/cuts.jsonl.gz"))
    assert len(recs) == 8  # 4 pieces x 2 conditions
    info = sf.info(repo / recs[0].recording.sources[0].source)
    assert info.samplerate == 16000 and info.format == "FLAC"
    cuts = list(CutSet.from_file(repo / "data/segment/cuts.jsonl.gz"))
    assert cuts and all(c.duration <= 6.0 + 1e-6 for c in cuts)
    assert all((repo / c.custom["midi"]).is_file() for c in cuts)
    assert cuts[0].load_audio().shape[1] == pytest.approx(cuts[0].duration * 16000, abs=2)


def test_token_stores_and_pack(repo):
    for tok, stage in (("aria", "aria_tokenize"), ("remi", "gnm_tokenize"), ("abc", "abc_tokenize")):
        stats = json.loads((repo / f"reports/{stage}/stats.json").read_text())
        assert stats, tok
        assert (repo / f"data/tokens/{tok}/train/tokens.bin").stat().st_size > 0
    meta = json.loads((repo / "data/pack/aria/meta.json").read_text())
    assert meta["vocab_size"] == 17727


def test_models_and_reports(repo):
    from safetensors import safe_open

    for stage in ("aria_pretrain", "aria_finetune"):
        with safe_open(repo / f"models/{stage}/model.safetensors", "pt") as f:
            keys = set(f.keys())
        assert "model.tok_embeddings.weight" in keys and "lm_head.weight" in keys
        m = json.loads((repo / f"reports/{stage}/metrics.json").read_text())
        assert m["val_loss"] > 0
    with safe_open(repo / "models/aria_contrastive/model.safetensors", "pt") as f:
        assert "emb_head.weight" in set(f.keys())
    gen = json.loads((repo / "reports/aria_generate/index.json").read_text())
    assert gen
    probe = json.loads((repo / "reports/aria_probe/metrics.json").read_text())
    assert probe
    for stage in ("abc_pretrain", "abc_finetune"):  # NotaGen: upstream key layout, held-out perplexity
        from pipeline.notagen import load

        load(next((repo / f"models/{stage}").glob("*.safetensors")))
        assert json.loads((repo / f"reports/{stage}/metrics.json").read_text())["val_loss"] > 0
    html = (repo / "reports/site/index.html").read_text()
    assert "<html" in html.lower() and "aria_probe" in html
    for family in ("aria", "valle", "gnm", "notagen"):
        assert f'id="family-{family}"' in html, family


def test_remote_push_then_fresh_clone_pulls_and_is_up_to_date(repo, tmp_path):
    """The sharing promise on a local-directory DVC remote: push from this clone, `dvc pull`
    in a fresh `git clone`, and there `dvc status` is clean and `dvc repro` runs nothing."""
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "shared", str(remote)], repo)
    run(["dvc", "push"], repo)
    run(git + ["add", "-A"], repo)
    run(git + ["commit", "-qm", "results"], repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert not (clone / "models").exists()
    run(["dvc", "pull"], clone)
    assert "up to date" in run(["dvc", "status"], clone).stdout
    assert stages_run(run(["dvc", "repro"], clone).stdout) == []
    assert (clone / "reports/site/index.html").read_bytes() == (repo / "reports/site/index.html").read_bytes()
