"""The codec training job: SEANet + RVQ generator vs multi-scale STFT discriminator.

``run_job(job)`` runs in the stage's process or under torchrun (``pipeline.train.job.run_training``):
build (or load, to fine-tune) the codec, the discriminator, seeded audio-crop batches and the
codec objective; run :func:`pipeline.train.adversarial.train_adversarial`; on rank 0 save the
codec (``pipeline.codec.save``), measure reconstruction on the validation segments, write
example reconstructions + a spectrogram figure and the training outputs.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import soundfile as sf
import torch

from pipeline.codec.config import CodecConfig
from pipeline.codec.data import CropBatches
from pipeline.codec.discriminator import MultiScaleSTFTDiscriminator
from pipeline.codec.evaluate import recon_metrics, spectrogram_figure
from pipeline.codec.load import load, save
from pipeline.codec.model import Codec
from pipeline.codec.objective import CodecObjective, LossWeights
from pipeline.codec.segments import load_segment, to_int16
from pipeline.train import distributed as D
from pipeline.train.adversarial import AdversarialConfig, train_adversarial
from pipeline.data.jsonl import write_json
from pipeline.train.job import write_training_outputs

ENTRY = "pipeline.codec.train_job:run_job"


def build_codec(job: dict) -> Codec:
    if job.get("init_from"):
        codec = load(job["init_from"])  # fine-tune a released codec: its own config wins
    else:
        codec = Codec(CodecConfig.from_dict(job["codec"]))
    codec.check_rate(job["sample_rate"])
    return codec.train()


def adversarial_config(train: dict) -> AdversarialConfig:
    names = {f.name for f in fields(AdversarialConfig)}
    return AdversarialConfig(**{k: v for k, v in train.items() if k in names})


class CodebookInitAt:
    """Training batches that k-means-initialise the codec's codebooks when batch ``at`` is drawn.

    Until then the codec runs unquantized (``Codec.defer_quantizer``): an autoencoder warm-up,
    so k-means clusters a trained encoder's latents instead of a random one's (k-means on the
    random encoder's first 200-frame batch left 2-6 % of the codes in use). The trigger is the
    batch index (step * grad_accum), so a resumed run initialises at the same step; the k-means
    crops and torch RNG are seeded and rank-independent, so every rank gets the same codebooks."""

    def __init__(self, batches: CropBatches, codec: Codec, at: int, kmeans: CropBatches, seed: int) -> None:
        self.inner, self.codec, self.at, self.kmeans, self.seed = batches, codec, int(at), kmeans, seed
        self.rank, self.world_size, self.seq_len = batches.rank, batches.world_size, batches.seq_len
        codec.defer_quantizer = True

    def describe(self) -> dict:
        return self.inner.describe() | {"codebook_init_at": self.at, "kmeans_crops": self.kmeans.batch_size}

    def init_now(self) -> None:
        if self.codec.quantizer_ready:
            return
        dev = next(self.codec.parameters()).device
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(self.seed)
            self.codec.init_codebooks(self.kmeans.batch(0).to(dev))

    def batch(self, i: int) -> torch.Tensor:
        if i >= self.at:
            self.init_now()
        return self.inner.batch(i)


def run_job(job: dict) -> dict | None:
    cfg = adversarial_config(job["train"])
    info = D.setup(cfg.device)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    codec = build_codec(job)
    disc = MultiScaleSTFTDiscriminator(job["disc_filters"], job["disc_n_ffts"], codec.cfg.channels)
    crop = int(round(job["crop_s"] * codec.sample_rate))
    train_waves = [to_int16(load_segment(s)) for s in job["train_segments"]]
    val_waves = [load_segment(s) for s in job["val_segments"]]
    batches = CropBatches(train_waves, crop, job["batch_size"], seed=cfg.seed, rank=info.rank,
                          world_size=info.world_size)
    warmup = int(job.get("vq_warmup") or 0)
    if warmup and not job.get("init_from") and not codec.quantizer_ready:  # a fine-tuned codec keeps its codebooks
        kmeans = CropBatches(train_waves, crop, int(job.get("kmeans_crops") or 64), seed=cfg.seed + 1)
        batches = CodebookInitAt(batches, codec, warmup * cfg.grad_accum, kmeans, cfg.seed)
    val = (CropBatches(val_waves, crop, job["batch_size"], seed=cfg.seed, rank=info.rank,
                       world_size=info.world_size) if val_waves else None)
    objective = CodecObjective(codec.sample_rate, LossWeights(**job["weights"]), job["adv_loss"],
                               tuple(job["mel_n_ffts"]), job["n_mels"], job.get("mel_floor_db"),
                               job.get("mel_log_loss", "l2"), bool(job.get("mel_after_warmup")))
    result = train_adversarial(codec, disc, objective, batches, cfg, job["ckpt_dir"], resume=job.get("resume", True),
                               val=val, fingerprint_extra=job.get("fingerprint"), dist_info=info)
    metrics = None
    if isinstance(batches, CodebookInitAt):
        batches.init_now()  # vq_warmup >= steps: still give the saved codec real codebooks
    if info.is_main:
        codec.eval()
        save(codec, job["model_dir"], extra={"init_from": job.get("init_from"), "steps": cfg.steps,
                                             "trained_on": {"segments": len(train_waves)}})
        recon, recons = recon_metrics(codec, val_waves)
        report = Path(job["report_dir"])
        samples = _write_samples(report, job["val_segments"], val_waves, recons, codec.sample_rate, job["samples"])
        extra = {"codec": codec.cfg.to_dict(), "sample_rate": codec.sample_rate, "n_q": codec.n_q,
                 "bins": codec.bins, "frame_rate": codec.frame_rate,
                 "bandwidth_kbps": round(codec.cfg.bandwidth_kbps, 3), "train_segments": len(train_waves),
                 "val_segments": len(val_waves), "samples_per_s": round(result.tokens_per_s, 1),
                 "init_from": job.get("init_from"), **recon}
        metrics = write_training_outputs(result, report, cfg.steps, extra=extra)
        write_json(report / "samples.json", samples)
    D.barrier(info)
    D.cleanup()
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
