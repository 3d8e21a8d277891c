"""DVC stage ``codec_train``: the EnCodec-style codec, trained adversarially on segment audio
(or fine-tuned from a user's local checkpoint, ``codec_train.init_from``).

Outputs ``models/codec_train/`` (config.json + model.safetensors, loadable with
``pipeline.codec.load``) and ``reports/codec_train/`` (metrics.json with the reconstruction
metrics, plots/loss.csv with every loss term, plots/spectrograms.png, samples/, headline.json).
Checkpoints go to ``models/.ckpt/codec_train/``; a killed run resumes there with unchanged params.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.codec.config import CodecConfig
from pipeline.codec.headline import write_train_headline
from pipeline.codec.model import CodecSampleRateError
from pipeline.codec.segments import pick_segments, read_specs
from pipeline.codec.train_job import ENTRY
from pipeline.config import load_section, repo_root
from pipeline.orchestration.training import train_stage

MODEL, REPORT, CUTS = "models/codec_train", "reports/codec_train", "data/segment/cuts.jsonl.gz"


@flow(name="codec_train")
def codec_train() -> None:
    log = get_run_logger()
    p, root = load_section("codec_train"), repo_root()
    specs = read_specs(root / CUTS, root, p.conditions)
    if not specs:
        raise ValueError(f"codec_train: no segments in {CUTS} for conditions {p.conditions}")
    rate, rates = CodecConfig.from_params(p.model).sample_rate, sorted({s["sample_rate"] for s in specs})
    if not p.init_from and rates != [rate]:
        raise CodecSampleRateError(
            f"segments are at {rates} Hz but codec preset {p.model.preset!r} takes "
            f"{rate} Hz: set render_audio.sample_rate to {rate}"
        )
    if p.init_from and not (root / p.init_from).exists():
        raise FileNotFoundError(f"codec_train.init_from: {root / p.init_from} does not exist")
    train, val, val_source = pick_segments(specs, p.max_segments, p.val_segments)
    log.info(
        "codec_train: %s codec, %d train / %d %s segments",
        p.init_from or p.model.preset,
        len(train),
        len(val),
        val_source,
    )
    metrics = train_stage(
        "codec_train",
        ENTRY,
        model=MODEL,
        report=REPORT,
        inputs={
            "train_segments": train,
            "val_segments": val,
            "sample_rate": rates[0],
            "init_from": str(root / p.init_from) if p.init_from else None,
        },
        deps=[CUTS, *([p.init_from] if p.init_from else [])],
        finish=lambda out, m: write_train_headline(out[REPORT], m, val_source),
    )
    log.info(
        "codec_train: SI-SNR %.2f dB, log-mel L1 %.3f, %.0f samples/s",
        metrics.get("recon_si_snr_db") or 0,
        metrics.get("recon_logmel_l1") or 0,
        metrics.get("samples_per_s") or 0,
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(codec_train)
