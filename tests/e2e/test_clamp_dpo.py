"""The scorer and the CLaMP-DPO loop in the shared micro build (tests/e2e/conftest.py, K = 2): the
scorer loads, every round and iteration is an output, the score table has a row per K.
(Raising K lives in test_zz_clamp_dpo_k.py: it edits params.)"""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.pipeline

OURS = ["clamp_train", "abc_dpo", "abc_score_table"]


@pytest.fixture(scope="module")
def repo(micro_dag):
    assert set(OURS) <= set(micro_dag.ran)
    return micro_dag.path


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
    assert [r[0] for r in rows] == [
        "NotaGen (ours), K=0",
        "NotaGen (ours), K=1",
        "NotaGen (ours), K=2",
        "ground truth (held-out)",
    ]
    assert head["figures"] == ["plots/score_curve.png"]
