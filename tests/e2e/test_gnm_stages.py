"""The GnM stages through real ``dvc repro gnm_eval`` on the micro profile (a temp repo copy):
tokens -> generality -> mastery + scratch -> samples -> classifier -> style table."""

import json

import pytest
import torch
from repo_copy import run, stages_run

pytestmark = pytest.mark.pipeline

GNM = ["gnm_tokenize", "gnm_pretrain", "gnm_finetune", "gnm_scratch", "gnm_classifier", "gnm_generate", "gnm_eval"]


@pytest.fixture(scope="module")
def repo(micro_dag):
    assert set(GNM) <= set(micro_dag.ran)
    return micro_dag.path


def test_vocabulary_artifact_and_models_agree(repo):
    meta = json.loads((repo / "data/tokens/remi/tokenizer_meta.json").read_text())
    assert meta["name"] == "gnm-events" and meta["mastery_composers"] == ["Bach", "Palestrina"]
    vocab = json.loads((repo / "data/tokens/remi/vocab.json").read_text())
    assert vocab["sha256"] == meta["vocab_hash"] and vocab["tokens"][-1] == "PAD_None"
    for stage in ("gnm_pretrain", "gnm_finetune", "gnm_scratch"):
        cfg = json.loads((repo / f"models/{stage}/config.json").read_text())
        assert cfg["meta"]["vocab_hash"] == meta["vocab_hash"]
        sd = torch.load(repo / f"models/{stage}/params.pt", weights_only=True)
        assert sd["word_emb.emb_lookup.weight"].shape[0] == vocab["size"]
        assert any("adapters" in k for k in sd) == (stage == "gnm_finetune")


def test_style_table_samples_and_noop(repo):
    head = json.loads((repo / "reports/gnm_eval/headline.json").read_text())
    table = head["tables"][0]
    assert table["columns"][:3] == ["composer", "mastery", "scratch"]
    assert [r[0] for r in table["rows"]] == ["Bach", "Palestrina", "mean"]
    assert head["figures"] == ["confusion_mastery.png", "confusion_scratch.png"]
    for s in head["samples"]:
        assert (repo / "reports/gnm_eval" / s["audio"][0]).stat().st_size > 0
    gen = json.loads((repo / "reports/gnm_generate/index.json").read_text())
    assert {(e["model"], e["composer"]) for e in gen["samples"]} >= {
        ("mastery", "Bach"),
        ("scratch", "Palestrina"),
        ("generality", "None"),
    }
    assert stages_run(run(["dvc", "repro", "gnm_eval"], repo).stdout) == []
