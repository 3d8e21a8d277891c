"""DVC stage ``valle_train``: VALL-E (MIDI front-end, AR codebook 0 + NAR 1..n-1) on codec tokens.

Reads ``data/codec_tokenize`` (codes [n_q, frames] + MIDI compound tokens per segment) and the
codec facts from ``models/codec_train``; trains AR and NAR together (``train_stage: 0``) or one
of them, on the core loop. Outputs ``models/valle_train/`` (model.safetensors, config.json) and
``reports/valle_train/`` (metrics.json, plots/loss.csv, quarantine.json). Checkpoints go to
``models/.ckpt/valle_train/``: a killed run resumes when the params are unchanged. ``valle_train.init``:
a VALL-E checkpoint (ours, or MIDI-VALLE's .pt) under ``weights/valle_train/`` to start from, or with
``steps: 0`` to import (pipeline/valle/released.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.codec import load as load_codec
from pipeline.config import load_section, repo_root
from pipeline.orchestration.training import train_stage
from pipeline.valle.released import import_init
from pipeline.valle.train_job import ENTRY, codec_facts

MODEL, REPORT = "models/valle_train", "reports/valle_train"
TOKENS, CODEC = "data/codec_tokenize", "models/codec_train"


@flow(name="valle_train")
def valle_train() -> None:
    log = get_run_logger()
    p, root = load_section("valle_train"), repo_root()
    codec = codec_facts(load_codec(root / CODEC))
    log.info(
        "valle_train: model %s %s, train_stage %d, codec %s", p.model, dict(p.model_overrides), p.train_stage, codec
    )
    metrics = train_stage(
        "valle_train",
        ENTRY,
        model=MODEL,
        report=REPORT,
        inputs={"tokens": str(root / TOKENS), "codec": codec},
        deps=[TOKENS, CODEC],
        import_init=import_init,
    )
    log.info("valle_train: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(valle_train)
