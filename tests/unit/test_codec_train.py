"""The codec's training pieces: objective, discriminator, crops, a real (tiny) adversarial run
with resume, the k-means hook, the typed job, and the named configs."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
import torch

from pipeline.codec import Codec, CodecConfig, load
from pipeline.codec.data import CropBatches
from pipeline.codec.discriminator import MultiScaleSTFTDiscriminator
from pipeline.codec.objective import CodecObjective, LossWeights, si_snr
from pipeline.codec.train_job import run_job
from pipeline.train.adversarial import AdversarialConfig, train_adversarial

pytestmark = pytest.mark.unit

SMALL = CodecConfig(n_filters=2, dimension=8, bins=16, n_q=2, kmeans_iters=2, ratios=(8, 5, 4, 2))


def waves(n=3, seconds=0.5, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return [(0.3 * np.sin(2 * np.pi * (220 + 110 * k) * t)).astype(np.float32) for k in range(n)]


def test_crops_are_a_pure_function_of_the_index():
    b = CropBatches(waves(), 800, 4, seed=3)
    assert b.batch(5).shape == (4, 1, 800) and torch.equal(b.batch(5), CropBatches(waves(), 800, 4, seed=3).batch(5))
    two = CropBatches(waves(), 800, 2, seed=3)
    assert torch.equal(torch.cat([two.batch(2), two.batch(3)]), b.batch(1))  # grad accumulation sees the same items
    r0, r1 = (CropBatches(waves(), 800, 2, seed=3, rank=r, world_size=2) for r in (0, 1))
    assert not torch.equal(r0.batch(0), r1.batch(0))
    assert [x.shape[0] for x in b.once()] == [3]


def test_discriminator_shapes_and_objective_terms():
    torch.manual_seed(0)
    codec, disc = Codec(SMALL).train(), MultiScaleSTFTDiscriminator(4, (256, 512), 1)
    x = torch.from_numpy(np.stack(waves(2, 0.25)))[:, None]
    logits, fmaps = disc(x)
    assert len(logits) == 2 and all(lg.shape[0] == 2 for lg in logits) and len(fmaps[0]) == 5
    obj = CodecObjective(16000, LossWeights(), "hinge", (256, 512), 32)
    loss, fake = obj.generator_step(codec, disc, x, adversarial=True)
    assert set(loss.stats) == {"l1", "mel", "commit", "adv", "feat"} and not fake.requires_grad
    loss.loss.backward()
    assert codec.encoder.layers[0].conv.parametrizations.weight.original1.grad is not None
    d = obj.discriminator_step(disc, x, fake)
    assert set(d.stats) == {"d_real", "d_fake"} and torch.isfinite(d.loss)
    assert float(si_snr(x, x).mean()) > 60 and float(si_snr(-x, x).mean()) > 60  # scale-invariant


def test_relative_mel_floor_is_level_invariant():
    from pipeline.codec.losses import MultiScaleMelLoss

    torch.manual_seed(0)
    real = torch.from_numpy(np.stack(waves(2, 0.25)))[:, None]
    fake = real + 0.01 * torch.randn_like(real)
    for log_loss in ("l1", "l2"):
        rel = MultiScaleMelLoss(16000, (256,), 32, floor_db=60.0, log_loss=log_loss)
        total = [float(rel(a * fake, a * real)) for a in (1.0, 0.01)]
        lin = [float(torch.nn.functional.l1_loss(rel.mel(a * fake, 256), rel.mel(a * real, 256))) for a in (1.0, 0.01)]
        assert total[0] - lin[0] == pytest.approx(total[1] - lin[1], rel=1e-3)  # the log part ignores the level
    absolute = MultiScaleMelLoss(16000, (256,), 32)
    assert float(absolute(0.01 * fake, 0.01 * real)) != pytest.approx(float(absolute(fake, real)), rel=1e-2)
    silent = torch.zeros_like(real)
    assert torch.isfinite(MultiScaleMelLoss(16000, (256,), 32, floor_db=60.0)(fake, silent))
    with pytest.raises(ValueError, match="log_loss"):
        MultiScaleMelLoss(16000, (256,), 32, log_loss="l3")
    obj = CodecObjective(16000, LossWeights(), mel_n_ffts=(256,), n_mels=32, mel_floor_db=60.0, mel_log_loss="l1")
    assert obj.hparams()["mel_floor_db"] == 60.0 and obj.hparams()["mel_log_loss"] == "l1"


def test_mel_term_can_wait_for_the_quantizer():
    codec = Codec(SMALL)
    codec.defer_quantizer = True  # the unquantized warm-up (uninitialised codebooks)
    late = CodecObjective(16000, LossWeights(mel=0.5), mel_n_ffts=(256,), n_mels=32, mel_after_warmup=True)
    always = CodecObjective(16000, LossWeights(mel=0.5), mel_n_ffts=(256,), n_mels=32)
    assert late._mel_weight(codec) == 0.0 and always._mel_weight(codec) == 0.5
    codec.defer_quantizer = False
    assert late._mel_weight(codec) == 0.5


def test_codec_adversarial_run_resumes_exactly(tmp_path):
    obj = CodecObjective(16000, LossWeights(), "mse", (256,), 32)
    cfg = dict(steps=3, adv_start=1, eval_every=3, checkpoint_every=2, device="cpu", progress=False, log_every=100)

    def run(out, **kw):
        torch.manual_seed(0)
        codec, disc = Codec(SMALL), MultiScaleSTFTDiscriminator(2, (256,), 1)
        res = train_adversarial(
            codec,
            disc,
            obj,
            CropBatches(waves(), 1600, 2, seed=1),
            AdversarialConfig(**cfg),
            out,
            val=CropBatches(waves(), 1600, 2),
            **kw,
        )
        return codec, res

    full, res = run(tmp_path / "a")
    assert "train_adv" in res.history[-1] and "val_si_snr_db" in res.history[-1]

    class Stop(Exception):
        pass

    def stop(step, _):
        if step == 2:
            raise Stop

    with pytest.raises(Stop):
        run(tmp_path / "b", hooks=[stop])
    resumed, res2 = run(tmp_path / "b")
    assert res2.resumed_from == 2 and res2.history == res.history
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def _job(tmp_path, name, spec, **p):
    from pipeline.params.codec import CodecTrainParams
    from pipeline.train.job import TrainJob

    model = {
        "preset": "tiny",
        **{k: getattr(SMALL, k) for k in ("n_filters", "dimension", "bins", "n_q", "kmeans_iters")},
    }
    params = CodecTrainParams(
        model=model,
        steps=2,
        batch_size=2,
        lr=3e-4,
        grad_clip=1.0,
        eval_every=2,
        eval_batches=1,
        checkpoint_every=2,
        adv_start=1,
        vq_warmup=1,
        kmeans_crops=4,
        crop_s=0.2,
        disc_filters=2,
        disc_n_ffts=[256],
        mel_n_ffts=[256],
        n_mels=32,
        samples=1,
        **p,
    )
    job = TrainJob(
        stage="codec_train",
        p=params,
        seed=1,
        device="cpu",
        ckpt_dir=tmp_path / f"ckpt{name}",
        model_dir=tmp_path / f"model{name}",
        report_dir=tmp_path / f"rep{name}",
        inputs={"train_segments": [spec], "val_segments": [spec], "sample_rate": 16000, "init_from": None},
    )
    return TrainJob.from_json(job.to_json())  # as a torchrun worker gets it


def test_run_job_writes_a_loadable_codec(tmp_path):
    import soundfile as sf

    audio = np.concatenate(waves(2, 1.0))
    sf.write(tmp_path / "a.flac", audio, 16000)
    spec = {
        "id": "s0",
        "audio": str(tmp_path / "a.flac"),
        "start": 0.0,
        "duration": 2.0,
        "sample_rate": 16000,
        "split": "train",
        "condition": "piano_dry",
    }
    job = _job(tmp_path, "", spec)
    assert job.train_config(AdversarialConfig).betas == (0.5, 0.9)  # the codec params' optimiser defaults
    metrics = run_job(job)
    assert metrics["n_q"] == 2 and "recon_si_snr_db" in metrics and len(metrics["codebook_use"]) == 2
    assert (tmp_path / "rep/plots/loss.csv").read_text().splitlines()[0].startswith("step,train_loss,val_loss")
    assert (tmp_path / "rep/samples/s0.recon.flac").is_file()
    codec = load(tmp_path / "model")
    assert codec.encode(torch.zeros(1, 1, 3200)).shape == (1, 2, 10)
    # fine-tuning from that checkpoint keeps its config (init_from)
    job2 = _job(tmp_path, "2", spec)
    job2.inputs["init_from"] = str(tmp_path / "model")
    assert run_job(job2)["init_from"] == str(tmp_path / "model")
    assert load(tmp_path / "model2").cfg == codec.cfg


def test_stage_helpers_pick_held_out_segments_and_apply_overrides():
    from pipeline.codec.segments import pick_segments
    from pipeline.params.codec import CodecTrainParams

    p = CodecTrainParams(model={"preset": "encodec_32khz", "n_q": 8}, val_segments=2, max_segments=3)
    cfg = CodecConfig.from_params(p.model)
    assert (cfg.sample_rate, cfg.n_q, cfg.bins, cfg.pad_mode) == (32000, 8, 2048, "constant")
    specs = [{"id": i, "split": s} for i, s in enumerate(["train"] * 6 + ["test", "test", "val"])]
    train, val, source = pick_segments(specs, p.max_segments, p.val_segments)
    assert len(train) == 3 and {s["split"] for s in train} == {"train"} and source == "val" and len(val) == 1
    train, val, source = pick_segments([s for s in specs if s["split"] != "val"], p.max_segments, p.val_segments)
    assert source == "test" and len(val) == 2
    train, val, source = pick_segments(specs[:6], p.max_segments, p.val_segments)
    assert source == "train" and len(val) == 2


def test_named_configs_and_the_params_model_section():
    from pipeline.codec.config import CONFIGS
    from pipeline.params.codec import CodecModelParams
    from pipeline.train.named_config import ModelConfigError

    assert CodecConfig.from_name("tiny", n_q=2).n_q == 2 and CodecConfig.from_name("tiny") is CONFIGS["tiny"]
    with pytest.raises(ModelConfigError, match="known"):
        CodecConfig.from_name("huge")
    with pytest.raises(ModelConfigError, match="allowed"):
        CodecConfig.from_name("tiny", depth=3)
    # every name the params accept is a config, every nullable override a config field
    assert set(CodecModelParams.model_fields["preset"].annotation.__args__) == set(CONFIGS)
    assert set(CodecModelParams.model_fields) - {"preset"} <= {f.name for f in fields(CodecConfig)}


def test_codebook_hook_warms_up_unquantized_then_kmeans_inits_at_the_step():
    from pipeline.codec.codebook_init import CodebookInitAt

    torch.manual_seed(0)
    codec = Codec(SMALL).train()
    crops = CropBatches(waves(), 1600, 2, seed=1)
    hook = CodebookInitAt(codec, 3, CropBatches(waves(), 1600, 8, seed=2), seed=5)
    assert codec.defer_quantizer and not codec.quantizer_ready and hook.describe()["codebook_init_at"] == 3
    hook(0, codec)  # the loop's start call
    recon, commit, codes = codec(crops.batch(2))
    assert codes is None and float(commit) == 0.0 and not codec.quantizer_ready  # warm-up: no k-means yet
    hook(2, codec)
    assert not codec.quantizer_ready
    hook(3, codec)  # 3 steps done: step 3's batches are quantized
    assert codec.quantizer_ready
    books = [e.clone() for e in codec.codebooks()]
    hook(4, codec)  # once only
    recon, commit, codes = codec(crops.batch(4))
    assert codes.shape == (2, SMALL.n_q, 5)
    # seeded, so a resumed run (its start call) or another rank gets the same codebooks
    torch.manual_seed(0)
    again = Codec(SMALL).train()
    CodebookInitAt(again, 3, CropBatches(waves(), 1600, 8, seed=2), seed=5)(5, again)
    for a, c in zip(again.codebooks(), books):
        assert torch.equal(a, c)


def test_codebook_init_resumes_at_the_same_step(tmp_path):
    """A run killed at the init step and resumed equals an uninterrupted one (the hook's start call)."""
    from pipeline.codec.codebook_init import CodebookInitAt

    obj = CodecObjective(16000, LossWeights(), "mse", (256,), 32)
    cfg = AdversarialConfig(
        steps=4, adv_start=1, eval_every=2, checkpoint_every=2, device="cpu", progress=False, log_every=100
    )

    def run(out, stop_at=None):
        torch.manual_seed(0)
        codec, disc = Codec(SMALL), MultiScaleSTFTDiscriminator(2, (256,), 1)
        init = CodebookInitAt(codec, 2, CropBatches(waves(), 1600, 8, seed=2), seed=5)

        def stop(step, _):
            if step == stop_at:
                raise KeyboardInterrupt

        res = train_adversarial(
            codec,
            disc,
            obj,
            CropBatches(waves(), 1600, 2, seed=1),
            cfg,
            out,
            val=CropBatches(waves(), 1600, 2),
            hooks=[init, stop],
        )
        return codec, res

    full, res = run(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", stop_at=2)
    resumed, res2 = run(tmp_path / "b")
    assert res2.resumed_from == 2 and res2.history == res.history
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
