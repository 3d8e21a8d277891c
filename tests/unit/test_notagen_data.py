"""NotaGen training data: upstream text layout via abctoolkit, transposition, seeded batches, the job."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

from pipeline.notagen.data import PatchBatches, Piece, PieceItems, load_pieces, prompt_of, training_text  # noqa: E402
from pipeline.notagen.keys import _PC, KEYS_15, canonical, key_signature, shifted_key, transpose  # noqa: E402
from pipeline.notagen.objective import PatchLMObjective  # noqa: E402
from pipeline.notagen.parity import aligned, corpus_parity  # noqa: E402
from pipeline.notagen.patchilizer import unpatchify  # noqa: E402

RAW = (
    '%Baroque\n%Bach, Johann Sebastian\n%Chorus\nX:1\nL:1/8\nM:4/4\nK:F#m\nV:1 nm="Soprano"\nV:2 nm="Bass" clef=bass\n'
    "[V:1]cB|[V:2]A,G,|\n"
    "[V:1]A2 B2 c2 e2|[V:2]F,2 G,2 A,2 G,2|\n"
    "[V:1]z8|[V:2]A,C, E,2 A,,2 ^E,2|\n"
    "[V:1]F6 :|[V:2]F,6 :|\n"
)


def test_training_text_matches_upstream_layout():
    text = canonical(training_text(RAW, keep_prompt=False))
    assert "X:1" not in text and "%Baroque" not in text
    assert "[V:1]F6:|[V:2]F,6:|" in text  # abctoolkit lays repeats out without the space
    assert training_text(RAW, keep_prompt=True).startswith("%Baroque\n%Bach, Johann Sebastian\n%Chorus\nL:1/8")
    assert prompt_of(RAW) == ("Baroque", "Bach, Johann Sebastian", "Chorus")
    assert prompt_of("L:1/8\n") is None


def test_transposition_to_every_key_stays_aligned():
    text = canonical(training_text(RAW, keep_prompt=True))
    assert key_signature(text) == "A"
    for key in KEYS_15:
        moved = transpose(text, key)
        assert moved.startswith("%Baroque\n") and aligned(moved)[0], key
        assert _PC[key_signature(moved)] == _PC[key]  # abctoolkit may spell C# as Db for minor keys
    assert "K:Cm" in transpose(text, "Eb")


def test_finetune_shift_is_weighted_within_three_semitones():
    rng = np.random.default_rng(0)
    draws = [shifted_key("C", rng) for _ in range(2000)]
    allowed = {"A", "Bb", "B", "Cb", "C", "C#", "Db", "D", "Eb"}
    assert set(draws) <= allowed
    counts = {k: draws.count(k) for k in allowed}
    assert counts["C"] > counts["D"] > counts["Eb"]  # weights 4 > 2 > 1 (of 16)
    assert abs(counts["C"] / 2000 - 4 / 16) < 0.04


def test_corpus_parity_counts():
    text = training_text(RAW, keep_prompt=False)
    summary = corpus_parity([("a", text), ("b", canonical(text))])
    assert summary["pieces"] == 2 and summary["aligned"] == 2 and summary["transposed"] == 2
    assert summary["round_trip"] == 1 and summary["failures"]["round_trip"][0]["id"] == "a"
    assert summary["rests"] == 2


def items(n=6, patch_length=12, transposition="15keys"):
    text = canonical(training_text(RAW, keep_prompt=True))
    return PieceItems([Piece(f"p{i}", text, prompt_of(text)) for i in range(n)], patch_length, transposition)


def test_batches_are_seeded_cropped_and_reduced():
    b = PatchBatches(items(), 3, seed=5)
    p1, m1 = b.batch(7)
    p2, m2 = b.batch(7)
    assert torch.equal(p1, p2) and torch.equal(m1, m2)
    assert p1.shape[0] == 3 and p1.shape[1] <= 12 and p1.shape[2] == 16
    assert bool((p1[:, 0] == torch.tensor([1] * 15 + [2])).all())  # BOS patch first
    keys = {unpatchify(b.batch(i)[0][0]).split("K:")[1].split("\n")[0] for i in range(12)}
    assert len(keys) > 1  # transposed
    full = PatchBatches(items(patch_length=64, transposition="none"), 1).batch(0)[0][0]
    assert "[V:1]z8" not in unpatchify(full) and "[r:0/3]" in unpatchify(full)  # rests reduced, tags added
    val = list(PatchBatches(items(transposition="15keys"), 4, train=False).once())
    assert [v[0].shape[0] for v in val] == [4, 2]
    assert all("K:F#m" in unpatchify(v[0][0]) for v in val)  # validation: own key


def test_objective_weight_and_perplexity():
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel

    torch.manual_seed(0)
    model = NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=64))
    obj = PatchLMObjective()
    batch = obj.to(PatchBatches(items(patch_length=64), 2).batch(0), torch.device("cpu"))
    out = obj(model, batch)
    assert out.weight > 0 and out.loss.requires_grad
    assert obj.batch_tokens(batch) == int(batch[1].sum()) * 16
    assert obj.val_metrics(0.0, {})["val_perplexity"] == 1.0


def notagen_job(tmp_path, stage: str, p, inputs: dict, out: str):
    from pipeline.train.job import TrainJob

    return TrainJob(
        stage=stage,
        p=p,
        seed=42,
        device="cpu",
        ckpt_dir=tmp_path / "ckpt" / out,
        model_dir=tmp_path / out,
        report_dir=tmp_path / out / "report",
        inputs=inputs,
    )


def test_train_jobs_write_model_prompts_and_metrics(tmp_path):
    """abc_pretrain (a named config + overrides) then abc_finetune (from it, prompted, shift3)."""
    from pipeline.notagen.checkpoint import load
    from pipeline.notagen.train_job import run_job
    from pipeline.params.notagen import AbcFinetuneParams, AbcPretrainParams

    for split, n in (("train", 3), ("val", 1), ("test", 1)):
        (tmp_path / "tok" / split).mkdir(parents=True)
        rows = [{"id": f"{split}{i}", "text": RAW, "n_patches": 0} for i in range(n)]
        if split == "train":
            rows.append({"id": "bad", "text": "%A\n%B\n%C\nL:1/8\nK:C\n", "n_patches": 0})
        (tmp_path / "tok" / split / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    short = dict(steps=2, batch_size=2, warmup_steps=1, eval_every=2, checkpoint_every=2)
    pre = AbcPretrainParams(model_overrides={"hidden": 64, "patch_layers": 1, "patch_length": 32}, **short)
    metrics = run_job(
        notagen_job(tmp_path, "abc_pretrain", pre, {"tokens": str(tmp_path / "tok"), "keep_prompt": False}, "pre")
    )
    assert metrics["train_pieces"] == 3 and metrics["transposition"] == "15keys"
    assert load(tmp_path / "pre").config.patch_length == 32
    init = str(tmp_path / "pre" / "model.safetensors")
    metrics = run_job(
        notagen_job(
            tmp_path,
            "abc_finetune",
            AbcFinetuneParams(**short),
            {"tokens": str(tmp_path / "tok"), "keep_prompt": True, "init": init},
            "model",
        )
    )
    assert metrics["train_pieces"] == 3 and metrics["quarantined"] == 1 and metrics["test_perplexity"] > 1
    assert metrics["val_perplexity"] > 1
    assert json.loads((tmp_path / "model" / "prompts.json").read_text())[0]["composer"] == "Bach, Johann Sebastian"
    assert "tune-body" in (tmp_path / "model" / "report" / "quarantine.jsonl").read_text()
    assert load(tmp_path / "model").config.patch_length == 32
    assert len(load_pieces(tmp_path / "tok", "train", False)) == 4


def test_canonical_never_loses_a_left_repeat():
    text = "L:1/8\nM:6/8\nK:G\nV:1\n[V:1]A|\n[V:1]|:BAF ADD|\n[V:1]AGF EFA :|\n"
    assert "|:BAF" in canonical(text)  # abctoolkit's round trip drops it: the text is kept as is
