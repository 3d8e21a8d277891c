"""The CLaMP-DPO loop's parts on a tiny NotaGen: seeded sampling rounds that resume, scoring,
and one DPO iteration job on real interleaved ABC."""

import json

import numpy as np
import pytest
import torch

from pipeline.clamp.corpus import AbcPiece
from pipeline.clamp.model import ClampConfig, ClampModel
from pipeline.clamp.rounds import alignment_text, prompt_triples, sample_round, score_round, scoring_text
from pipeline.clamp.scorer import Scorer

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

PIECE = """%Folk
%Traditional
%Voice
X:1
L:1/8
M:4/4
K:G
V:1 nm="Voice"
V:2 nm="Bass" clef=bass
[V:1]d2 fe dc BA|[V:2]G,,2 B,,2 D,2 G,2|
[V:1]B2 A2 G4|[V:2]G,2 D,2 G,,4|
[V:1]G8|][V:2]G,,8|]
"""


@pytest.fixture(scope="module")
def policy():
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel

    torch.manual_seed(0)
    return NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=64)).eval()


def test_prompts_are_the_most_frequent_triples():
    ps = [AbcPiece(str(i), PIECE.replace("%Folk", f"%{p}"), {}) for i, p in enumerate(["A", "B", "B", "C", "C"])]
    assert prompt_triples(ps, 2) == [("B", "Traditional", "Voice"), ("C", "Traditional", "Voice")]


def test_default_prompts_are_the_most_frequent_that_can_end_within_max_chars():
    from pipeline.clamp.rounds import generated_length, prompt_table

    long_body = "".join("[V:1]d2 fe dc BA|[V:2]G,,2 B,,2 D,2 G,2|\n" for _ in range(30))
    long = PIECE.replace("%Folk", "%Long") + long_body
    ps = [AbcPiece(str(i), t, {}) for i, t in enumerate([long] * 3 + [PIECE] * 2 + [PIECE.replace("%Folk", "%C")])]
    short, big = generated_length(ps[3]), generated_length(ps[0])
    assert short < 300 < big  # prompt lines and X: not counted, stream tags counted
    assert prompt_table(ps)[0] == {"triple": ("Long", "Traditional", "Voice"), "pieces": 3, "median_chars": big}
    assert prompt_triples(ps, 2, max_chars=300) == [("Folk", "Traditional", "Voice"), ("C", "Traditional", "Voice")]
    assert prompt_triples(ps, 3, max_chars=300)[2] == ("Long", "Traditional", "Voice")  # none else: fills up
    assert prompt_triples(ps, 1) == [("Long", "Traditional", "Voice")]  # no cap: frequency only
    assert prompt_triples(ps, 1, [("C", "Traditional", "Voice")], 300) == [("C", "Traditional", "Voice")]


def test_a_killed_round_resumes_with_the_same_samples(tmp_path, policy, monkeypatch):
    import pipeline.notagen.batch_generation as gen

    prompts = [("Folk", "Traditional", "Voice")]
    kw = {"top_k": 9, "top_p": 0.9, "temperature": 1.2, "max_chars": 48, "max_seconds": 5.0}
    whole = sample_round(policy, prompts, 3, kw, 7, 0, tmp_path / "a.jsonl", "fp1")
    assert len(whole) == 3 and len({r["seed"] for r in whole}) == 3
    partial = tmp_path / "b.jsonl"
    partial.write_text((tmp_path / "a.jsonl").read_text().splitlines()[0] + "\n")  # killed after one sample
    calls = []
    real = gen.generate_batch
    monkeypatch.setattr(gen, "generate_batch", lambda *a, **k: calls.extend(k["seeds"]) or real(*a, **k))
    resumed = sample_round(policy, prompts, 3, kw, 7, 0, partial, "fp1")
    assert [r["text"] for r in resumed] == [r["text"] for r in whole]
    assert calls == [whole[1]["seed"], whole[2]["seed"]]  # only the missing ones were generated
    stale = sample_round(policy, prompts, 1, kw, 7, 0, partial, "other-fp")
    assert stale[0]["text"] == whole[0]["text"] and len(calls) == 3  # a different fingerprint resamples


def test_scoring_uses_the_restored_text_and_both_estimators():
    torch.manual_seed(0)
    scorer = Scorer(ClampModel(ClampConfig(patch_size=64, patch_length=32, hidden=64, layers=1, proj=16)))
    ref = scorer.music_features_batch([PIECE, PIECE.replace("d2 fe dc BA", "B2 AG FG A2")])
    samples = [
        {"text": "[r:0/0][V:1]G8|", "interleaved": PIECE, "complete": True, "stop": "eos"},
        {"text": "%Folk\nX:1\n[r:0/0][V:1]G8|", "interleaved": None, "complete": False, "stop": "max_chars"},
    ]
    assert scoring_text(samples[1]) == "X:1\n[V:1]G8|\n"
    feats, s = score_round(scorer, samples, ref)
    assert feats.shape == (2, 16) and s["complete"] == 1 and set(s["all"]) == {"mean_cosine", "set_mean"}
    assert s["max_similarity"][0] == pytest.approx(1.0, abs=1e-5)  # the reference piece itself
    assert s["stops"] == {"eos": 1, "max_chars": 1}


def test_alignment_text_of_complete_and_capped_pieces():
    assert alignment_text({"interleaved": PIECE, "text": "x"}) == PIECE
    head = PIECE.split("[V:1]d2")[0]
    capped = head + "[r:0/2][V:1]d2 fe dc BA|[V:2]G,,2 B,,2 D,2 G,2|\n[r:1/1][V:1]B2 A2"  # cut mid-line
    text = alignment_text({"interleaved": None, "text": capped})
    assert text.splitlines()[-1] == "[V:1]d2 fe dc BA|[V:2]G,,2 B,,2 D,2 G,2|" and "%Folk" not in text


def test_one_dpo_iteration_on_notagen(tmp_path, policy):
    from pipeline.clamp.dpo_job import run_job
    from pipeline.notagen.checkpoint import load, save
    from pipeline.params.clamp import AbcDpoParams
    from pipeline.train.job import TrainJob

    save(policy, tmp_path / "policy")
    texts = [
        PIECE,
        PIECE.replace("d2 fe dc BA", "B2 AG FG A2"),
        PIECE.replace("B2 A2 G4", "c2 B2 A4"),
        PIECE.replace("G8|]", "G4 G4|]"),
    ]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    p = AbcDpoParams(
        beta=0.1,
        lam=10.0,
        batch_size=2,
        steps=6,
        lr=3e-3,
        warmup_steps=0,
        final_lr_frac=1.0,
        weight_decay=0.0,
        eval_every=3,
        checkpoint_every=3,
    )
    job = TrainJob(
        stage="abc_dpo",
        p=p,
        seed=1,
        device="cpu",
        ckpt_dir=tmp_path / "ckpt",
        model_dir=tmp_path / "iter_1",
        report_dir=tmp_path / "iter_1" / "report",
        inputs={
            "policy": str(tmp_path / "policy"),
            "samples": str(tmp_path / "samples.jsonl"),
            "iteration": 1,
            "chosen": [0, 1],
            "rejected": [2, 3],
        },
    )
    metrics = run_job(job)
    assert metrics["pairs"] == 4 and metrics["unpatchifiable"] == {}
    assert metrics["val_loss"] < np.log(2)  # the policy moved away from the reference the right way
    assert "val_accuracy" in metrics and "val_margin" in metrics
    new = load(tmp_path / "iter_1")
    diff = sum(float((a - b).abs().sum()) for a, b in zip(new.state_dict().values(), policy.state_dict().values()))
    assert diff > 0


def test_round_files_hold_no_wall_clock(tmp_path):
    from pipeline.clamp.dpo_rounds import write_round

    rows = [{"fp": "x", "prompt": 0, "j": 0, "text": "t", "seconds": 1.234, "complete": False}]
    write_round(tmp_path, rows, np.zeros((1, 4), np.float32), {"n": 1}, [("Folk", "Traditional", "Voice")])
    row = json.loads((tmp_path / "samples.jsonl").read_text())
    assert row == {"index": 0, "prompt": 0, "j": 0, "text": "t", "complete": False}  # no fp, no seconds


def test_dpo_report_reads_beta_and_lambda_from_the_params(tmp_path):
    from pipeline.clamp.dpo_report import headline, write_reports
    from pipeline.params.clamp import AbcDpoParams

    counts = {"samples": 3, "chosen": 0, "rejected": 1, "failed_incomplete": 3}
    summary = [
        {"k": 0, "mean_cosine": 0.5, "set_mean": 0.6, "complete": 0, "n": 3, "pairs": 0, "preference_counts": counts},
        {"k": 1, "mean_cosine": 0.55, "set_mean": 0.65, "complete": 1, "n": 3},
    ]
    write_reports(tmp_path / "report", tmp_path / "models", summary, AbcDpoParams(iterations=1, beta=0.25, lam=5))
    head = json.loads((tmp_path / "report" / "headline.json").read_text())
    assert "(beta 0.25, lambda 5)" in head["text"]
    assert head["tables"][0]["rows"] == [[1, 3, 0, 0, 1, 0, "incomplete 3", None, None, None]]
    assert json.loads((tmp_path / "report" / "metrics.json").read_text()) == {
        "clamp_score_k0": 0.5,
        "clamp_score_k1": 0.55,
    }
    assert "(beta 0.1, lambda 10)" in headline(tmp_path, summary, AbcDpoParams())["text"]  # upstream's numbers


def test_sampling_keys_are_params_and_leave_the_rest_to_dpo():
    from pipeline.params.clamp import AbcDpoParams
    from pipeline.params.train import TrainParams

    assert AbcDpoParams.SAMPLING < set(AbcDpoParams.model_fields)
    assert not AbcDpoParams.SAMPLING & set(TrainParams.model_fields)  # training keys never resample a round
