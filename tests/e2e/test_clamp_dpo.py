"""The scorer and the CLaMP-DPO loop through real ``dvc repro abc_score_table`` on the micro profile
(a temp repo copy, K = 2): every round and iteration is an output, raising K to 3 builds only
iteration 3, a second repro is a no-op."""

import json

import numpy as np
import pytest
import yaml

from repo_copy import copy_repo, run, stages_run

pytestmark = pytest.mark.pipeline

OURS = ["clamp_train", "abc_dpo", "abc_score_table"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    dest = copy_repo(tmp_path_factory.mktemp("repo"))
    ran = stages_run(run(["dvc", "repro", "abc_score_table"], dest, timeout=1500).stdout)
    assert set(OURS) <= set(ran)
    return dest


def test_scorer_loads_and_scores(repo):
    from pipeline.clamp import load

    scorer = load(repo / "models/clamp_train/clamp.pth")
    text = json.loads((repo / "data/tokens/abc/train/texts.jsonl").read_text().splitlines()[0])["text"]
    assert scorer.music_features(text).shape == (scorer.dim,)
    assert json.loads((repo / "reports/clamp_train/metrics.json").read_text())["train_pieces"] > 0


def test_every_round_and_iteration_is_an_output(repo):
    for k in range(3):
        unit = repo / f"data/abc_dpo/samples_{k}"
        rows = [json.loads(x) for x in (unit / "samples.jsonl").read_text().splitlines()]
        assert len(rows) == 3 and np.load(unit / "features.npy").shape[0] == 3
        scores = json.loads((unit / "scores.json").read_text())
        assert set(scores["all"]) == {"mean_cosine", "set_mean"}
    for k in (1, 2):
        unit = repo / f"models/abc_dpo/iter_{k}"
        assert (unit / "model.safetensors").is_file()
        assert "counts" in json.loads((unit / "preferences.json").read_text())
    head = json.loads((repo / "reports/abc_score_table/headline.json").read_text())
    rows = head["tables"][0]["rows"]
    assert [r[0] for r in rows] == ["NotaGen (ours), K=0", "NotaGen (ours), K=1", "NotaGen (ours), K=2",
                                    "ground truth (held-out)"]
    assert head["figures"] == ["plots/score_curve.png"]


def test_raising_k_builds_only_the_new_iteration_then_noop(repo):
    before = {d.name: (d / "done.json").read_text() for d in (repo / "data/abc_dpo").glob("samples_*")}
    params = yaml.safe_load((repo / "params.yaml").read_text())
    text = (repo / "params.yaml").read_text()
    start = text.index("\nabc_dpo:")
    end = text.index("\n  iterations: 2", start)
    (repo / "params.yaml").write_text(text[:end] + "\n  iterations: 3" + text[end + len("\n  iterations: 2"):])
    assert params["abc_dpo"]["iterations"] == 2
    out = run(["dvc", "repro", "abc_dpo"], repo, timeout=900)
    assert stages_run(out.stdout) == ["abc_dpo"]
    logs = out.stdout + out.stderr
    assert all(f"round {k}: samples up to date" in logs for k in range(3))
    assert "iteration 3" in logs or (repo / "models/abc_dpo/iter_3").is_dir()
    after = {d.name: (d / "done.json").read_text() for d in (repo / "data/abc_dpo").glob("samples_*")}
    assert {k: after[k] for k in before} == before and "samples_3" in after
    assert (repo / "models/abc_dpo/iter_3/model.safetensors").is_file()
    again = run(["dvc", "repro", "abc_dpo"], repo, timeout=600)
    assert stages_run(again.stdout) == []
