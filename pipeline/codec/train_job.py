"""The codec training job: SEANet + RVQ generator vs multi-scale STFT discriminator.

``run_job(job)`` runs in the stage's process or under torchrun (``pipeline.train.job.run_training``):
build (or load, to fine-tune) the codec, the discriminator, seeded audio-crop batches and the
codec objective from ``job.p`` (``codec_train``) and ``job.inputs`` (``train_segments``,
``val_segments``: segment specs; ``sample_rate``; ``init`` (``codec_train.init``) or ``init_from``:
a codec path or None); run
:func:`pipeline.train.adversarial.train_adversarial`; on rank 0 save the codec
(``pipeline.codec.save``), measure reconstruction on the validation segments, write example
reconstructions + a spectrogram figure and the training outputs.
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch

from pipeline.codec.codebook_init import CodebookInitAt
from pipeline.codec.config import CodecConfig
from pipeline.codec.data import CropBatches
from pipeline.codec.discriminator import MultiScaleSTFTDiscriminator
from pipeline.codec.evaluate import recon_metrics, spectrogram_figure
from pipeline.codec.load import load, save
from pipeline.codec.model import Codec, CodecSampleRateError
from pipeline.codec.objective import CodecObjective, LossWeights
from pipeline.codec.segments import load_segment, pick_segments, read_specs, to_int16
from pipeline.data.jsonl import write_json
from pipeline.params.codec import CodecTrainParams
from pipeline.train import distributed as D
from pipeline.train.adversarial import AdversarialConfig, train_adversarial
from pipeline.train.job import TrainJob, write_training_outputs

ENTRY = "pipeline.codec.train_job:run_job"


def build_codec(p: CodecTrainParams, init_from: str | None, sample_rate: int) -> Codec:
    # fine-tuning a released codec: its own config wins over p.model
    codec = load(init_from) if init_from else Codec(CodecConfig.from_params(p.model))
    codec.check_rate(sample_rate)
    return codec.train()


def objective(p: CodecTrainParams, sample_rate: int) -> CodecObjective:
    return CodecObjective(
        sample_rate,
        LossWeights(**p.weights.model_dump()),
        p.adv_loss,
        tuple(p.mel_n_ffts),
        p.n_mels,
        p.mel_floor_db,
        p.mel_log_loss,
        p.mel_after_warmup,
    )


def run_job(job: TrainJob) -> dict | None:
    p, init_from = job.p, job.inputs.get("init") or job.inputs.get("init_from")  # codec_train.init wins
    cfg = job.train_config(AdversarialConfig)
    with D.session(job.device) as info:
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        codec = build_codec(p, init_from, job.inputs["sample_rate"])
        disc = MultiScaleSTFTDiscriminator(p.disc_filters, p.disc_n_ffts, codec.cfg.channels)
        crop = int(round(p.crop_s * codec.sample_rate))
        train_waves = [to_int16(load_segment(s)) for s in job.inputs["train_segments"]]
        val_waves = [load_segment(s) for s in job.inputs["val_segments"]]
        shard = {"seed": cfg.seed, "rank": info.rank, "world_size": info.world_size}
        batches = CropBatches(train_waves, crop, p.batch_size, **shard)
        val = CropBatches(val_waves, crop, p.batch_size, **shard) if val_waves else None
        hooks, fingerprint = [], dict(job.fingerprint)
        if p.vq_warmup and not init_from and not codec.quantizer_ready:  # a fine-tuned codec keeps its codebooks
            kmeans = CropBatches(train_waves, crop, p.kmeans_crops, seed=cfg.seed + 1)
            hooks = [CodebookInitAt(codec, p.vq_warmup, kmeans, cfg.seed)]
            fingerprint |= hooks[0].describe()
        result = train_adversarial(
            codec,
            disc,
            objective(p, codec.sample_rate),
            batches,
            cfg,
            job.ckpt_dir,
            resume=job.resume,
            val=val,
            fingerprint_extra=fingerprint,
            hooks=hooks,
            dist_info=info,
        )
        for hook in hooks:
            hook.init_now()  # vq_warmup >= steps: still give the saved codec real codebooks
        if not info.is_main:
            return None
        codec.eval()
        save(
            codec,
            job.model_dir,
            extra={"init_from": init_from, "steps": cfg.steps, "trained_on": {"segments": len(train_waves)}},
        )
        recon, recons = recon_metrics(codec, val_waves)
        samples = _write_samples(
            job.report_dir, job.inputs["val_segments"], val_waves, recons, codec.sample_rate, p.samples
        )
        extra = {
            "codec": codec.cfg.to_dict(),
            "sample_rate": codec.sample_rate,
            "n_q": codec.n_q,
            "bins": codec.bins,
            "frame_rate": codec.frame_rate,
            "bandwidth_kbps": round(codec.cfg.bandwidth_kbps, 3),
            "train_segments": len(train_waves),
            "val_segments": len(val_waves),
            "samples_per_s": round(result.tokens_per_s, 1),
            "init_from": init_from,
            **recon,
        }
        metrics = write_training_outputs(result, job.report_dir, cfg.steps, extra=extra)
        write_json(job.report_dir / "samples.json", samples)
        return metrics


def _write_samples(report: Path, specs: list[dict], waves, recons, sample_rate: int, n: int) -> list[dict]:
    out, pairs = [], []
    for spec, w, r in list(zip(specs, waves, recons))[:n]:
        rel = [f"samples/{spec['id']}.orig.flac", f"samples/{spec['id']}.recon.flac"]
        (report / "samples").mkdir(parents=True, exist_ok=True)
        sf.write(str(report / rel[0]), w, sample_rate, format="FLAC", subtype="PCM_16")
        sf.write(str(report / rel[1]), r.clip(-1, 1), sample_rate, format="FLAC", subtype="PCM_16")
        out.append({"name": spec["id"], "condition": spec.get("condition"), "audio": rel})
        pairs.append((spec["id"], w, r))
    if pairs:
        spectrogram_figure(report / "plots" / "spectrograms.png", pairs, sample_rate)
    return out


def training_inputs(p, root: Path, cuts: str) -> tuple[dict, list[str], str]:
    """What ``codec_train`` hands the job: the segments (checked against the codec's sample rate:
    the preset's, or with ``init`` the checkpoint's), its deps (the cuts; ``init`` is added by
    ``train_stage``) and where the validation segments came from."""
    specs = read_specs(root / cuts, root, p.conditions)
    if not specs:
        raise ValueError(f"codec_train: no segments in {cuts} for conditions {p.conditions}")
    rates = sorted({s["sample_rate"] for s in specs})
    if p.init:
        rate, what = init_rate(root / p.init), f"codec_train.init {p.init}"
    else:
        rate, what = CodecConfig.from_params(p.model).sample_rate, f"codec preset {p.model.preset!r}"
    if rates != [rate]:
        raise CodecSampleRateError(
            f"segments are at {rates} Hz but {what} takes {rate} Hz: set render_audio.sample_rate to {rate}"
        )
    train, val, val_source = pick_segments(specs, p.max_segments, p.val_segments)
    inputs = {"train_segments": train, "val_segments": val, "sample_rate": rates[0], "init_from": None}
    return inputs, [cuts], val_source


def init_rate(path: Path) -> int:
    """The sample rate of the codec at ``path`` (loaded strictly; a missing file is named)."""
    if not path.exists():
        raise FileNotFoundError(f"codec_train.init: {path} does not exist")
    return load(path).sample_rate
