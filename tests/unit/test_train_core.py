"""The training core on each generic objective: resume equals uninterrupted, gradient
accumulation equals the mean micro-batch gradient, Loss.stats reach history and outputs,
the job launcher and output writer."""

import csv
import json

import numpy as np
import pytest
import torch
from jobs import cpu_job
from train_core_checks import check_grad_accum, check_resume, config

from pipeline.aria.model import ModelConfig, build
from pipeline.aria.pairs import PairBatches
from pipeline.aria.tokenizer import AbsTokenizer, Note, Piece
from pipeline.data.guards import IncompatibleInputError, check_same_tokenizer
from pipeline.train.batches import RowBatches
from pipeline.train.contrastive import ContrastiveObjective
from pipeline.train.job import TrainJob, run_training, write_training_outputs
from pipeline.train.loop import train
from pipeline.train.objectives import LMObjective

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TOK = AbsTokenizer()
VOCAB, PAD = 40, 2


def lm(seed=0):
    torch.manual_seed(seed)
    return build(ModelConfig(d_model=32, n_heads=2, n_layers=1, vocab_size=VOCAB, max_seq_len=32))


def emb(seed=0):
    torch.manual_seed(seed)
    return build(
        ModelConfig(d_model=32, n_heads=2, n_layers=1, vocab_size=TOK.vocab_size, max_seq_len=128, emb_size=16)
    )


def rows():
    return np.random.default_rng(0).integers(3, VOCAB, size=(16, 17)).astype(np.int32)


def pieces():
    rng = np.random.default_rng(1)
    return [
        Piece([Note(i * 120, i * 120 + 100, int(40 + 4 * k + rng.integers(0, 12)), 80, "piano", 0) for i in range(40)])
        for k in range(6)
    ]


OBJECTIVES = {
    "lm": (
        lm,
        lambda: LMObjective(PAD),
        lambda: RowBatches(rows(), 4, seed=1),
        lambda: RowBatches(rows()[:4], 4, shuffle=False),
    ),
    "contrastive": (
        emb,
        lambda: ContrastiveObjective(TOK.eos_id, TOK.pad_id, 0.1),
        lambda: PairBatches(pieces(), TOK, 3, (6, 12), 64, seed=2),
        lambda: PairBatches(pieces(), TOK, 3, (6, 12), 64, seed=3),
    ),
}


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_resume_equals_uninterrupted(name, tmp_path):
    make_model, make_obj, make_batches, make_val = OBJECTIVES[name]
    check_resume(make_model, make_obj(), make_batches, tmp_path, make_val)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_grad_accum_equals_mean_microbatch_gradient(name, tmp_path):
    make_model, make_obj, make_batches, _ = OBJECTIVES[name]
    check_grad_accum(make_model, make_obj(), make_batches, tmp_path)


def test_stats_reach_history_curves_and_metrics(tmp_path):
    make_model, make_obj, make_batches, make_val = OBJECTIVES["contrastive"]
    res = train(make_model(), make_obj(), make_batches(), config(), tmp_path / "ck", val=make_val())
    row = res.history[-1]
    assert {"train_pair_acc", "train_pos_cos", "val_pair_acc", "val_neg_cos"} <= set(row)
    metrics = write_training_outputs(res, tmp_path / "rep", 8, extra={"note": "x"})
    assert metrics["val_pair_acc"] == pytest.approx(row["val_pair_acc"], abs=1e-5) and metrics["note"] == "x"
    header = next(csv.reader(open(tmp_path / "rep/plots/loss.csv")))
    assert header[:3] == ["step", "train_loss", "val_loss"] and header[-1] == "lr" and "train_pair_acc" in header
    assert json.loads((tmp_path / "rep/metrics.json").read_text())["steps"] == 8
    lm_res = train(
        lm(),
        LMObjective(PAD),
        RowBatches(rows(), 4),
        config(steps=4),
        tmp_path / "lm",
        val=RowBatches(rows()[:4], 4, shuffle=False),
    )
    assert lm_res.val_metrics["val_perplexity"] == pytest.approx(np.exp(lm_res.val_loss))  # the LM objective's metric


def test_objective_hparams_are_in_the_fingerprint(tmp_path):
    b = lambda: PairBatches(pieces(), TOK, 3, (6, 12), 64, seed=2)  # noqa: E731
    a = train(emb(), ContrastiveObjective(TOK.eos_id, TOK.pad_id, 0.1), b(), config(steps=4), tmp_path)
    again = train(emb(), ContrastiveObjective(TOK.eos_id, TOK.pad_id, 0.5), b(), config(steps=4), tmp_path)
    assert a.fingerprint != again.fingerprint and again.resumed_from is None


def test_setup_hook_runs_once_the_model_is_on_its_device(tmp_path):
    seen = []

    class WithReference(LMObjective):
        def setup(self, model, device):
            seen.append((device.type, next(model.parameters()).device.type))

    train(lm(), WithReference(PAD), RowBatches(rows(), 4), config(steps=1), tmp_path)
    assert seen == [("cpu", "cpu")]


def job_for(stage: str, tmp_path, **params) -> TrainJob:
    from pipeline.params import SECTIONS

    return cpu_job(stage, SECTIONS[stage](**params), tmp_path, {"segments": [{"id": "a"}]}, seed=7)


def test_run_training_dispatches_and_rejects_unknown_launchers(tmp_path):
    job = job_for("aria_pretrain", tmp_path, steps=3, warmup_steps=1)
    assert run_training("builtins:repr", job) == repr(job)
    with pytest.raises(ValueError, match="runtime.launcher must be 'python' or 'torchrun'"):
        run_training("builtins:repr", job, launcher="mpirun")


def test_train_job_survives_the_trip_to_a_worker_and_builds_the_loop_config(tmp_path):
    from pipeline.train.adversarial import AdversarialConfig

    job = job_for("codec_train", tmp_path, steps=5, kmeans_crops=3)
    back = TrainJob.from_json(json.loads(json.dumps(job.to_json())))
    assert back == job and back.p.kmeans_crops == 3 and type(back.p) is type(job.p)
    cfg = back.train_config(AdversarialConfig)
    assert (cfg.steps, cfg.seed, cfg.device, cfg.betas, cfg.eps) == (5, 7, "cpu", (0.5, 0.9), 1e-8)
    assert job_for("gnm_pretrain", tmp_path).train_config().betas == (0.9, 0.999)  # upstream's Adam, from params
    with pytest.raises(Exception, match="kmeans_crops"):
        TrainJob.from_json(job.to_json() | {"p": job.to_json()["p"] | {"kmeans_crops": 0}})


def test_tokenizer_check_names_both_hashes():
    check_same_tokenizer("abc", "abc", "models/x", "rerun")
    check_same_tokenizer(None, "abc", "models/x", "rerun")
    with pytest.raises(IncompatibleInputError, match="models/x was made with tokenizer abc, the data uses def: rerun"):
        check_same_tokenizer("abc", "def", "models/x", "rerun")


def test_resumed_history_equals_uninterrupted_when_windows_straddle_checkpoints(tmp_path):
    from train_core_checks import Killed, kill_at

    make_model, make_obj, make_batches, make_val = OBJECTIVES["contrastive"]
    cfg = config(checkpoint_every=3, eval_every=4)  # checkpoint 3 falls inside the window 1..4
    ref = train(make_model(), make_obj(), make_batches(), cfg, tmp_path / "ref", val=make_val())
    with pytest.raises(Killed):
        train(make_model(), make_obj(), make_batches(), cfg, tmp_path / "run", val=make_val(), hooks=[kill_at(5)])
    res = train(make_model(), make_obj(), make_batches(), cfg, tmp_path / "run", val=make_val())
    assert res.resumed_from == 3
    for a, b in zip(ref.history, res.history):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9), k


def test_safetensors_bytes_do_not_depend_on_metadata_hash_order(tmp_path):
    import hashlib

    from safetensors.torch import load_file, save_file

    from pipeline.train.checkpoint import canonical_safetensors

    meta = {f"key{i}": str(i) for i in range(8)}
    digests = set()
    for i in range(4):  # the writer's hash order differs between calls
        path = tmp_path / f"{i}.safetensors"
        save_file({"w": torch.arange(6.0).view(2, 3)}, str(path), metadata=meta)
        canonical_safetensors(path)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
        assert torch.equal(load_file(str(path))["w"], torch.arange(6.0).view(2, 3))
    assert len(digests) == 1
