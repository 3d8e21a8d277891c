"""DVC stage ``codec_train``: the EnCodec-style codec, trained adversarially on segment audio
(or fine-tuned from a user's codec under ``weights/codec_train/``, ``codec_train.init``; with
``steps: 0`` imported untrained, pipeline/codec/released.py).

Outputs ``models/codec_train/`` (config.json + model.safetensors, loadable with
``pipeline.codec.load``) and ``reports/codec_train/`` (metrics.json with the reconstruction
metrics, plots/loss.csv with every loss term, plots/spectrograms.png, samples/, headline.json).
Checkpoints go to ``models/.ckpt/codec_train/``; a killed run resumes there with unchanged params.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.codec.headline import write_train_headline
from pipeline.codec.released import import_init
from pipeline.codec.train_job import ENTRY, training_inputs
from pipeline.config import load_section, repo_root
from pipeline.orchestration.training import train_stage

MODEL, REPORT, CUTS = "models/codec_train", "reports/codec_train", "data/segment/cuts.jsonl.gz"


@flow(name="codec_train")
def codec_train() -> None:
    log = get_run_logger()
    p, root = load_section("codec_train"), repo_root()
    inputs, deps, val_source = training_inputs(p, root, CUTS)
    log.info(
        "codec_train: %s codec, %d train / %d %s segments",
        p.init or p.model.preset,
        len(inputs["train_segments"]),
        len(inputs["val_segments"]),
        val_source,
    )
    metrics = train_stage(
        "codec_train",
        ENTRY,
        model=MODEL,
        report=REPORT,
        inputs=inputs,
        deps=deps,
        import_init=import_init,
        finish=lambda out, m: write_train_headline(out[REPORT], m, val_source),
    )
    log.info(
        "codec_train: SI-SNR %.2f dB, log-mel L1 %.3f",
        metrics.get("recon_si_snr_db") or 0,
        metrics.get("recon_logmel_l1") or 0,
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(codec_train)
