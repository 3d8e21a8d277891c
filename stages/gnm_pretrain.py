"""DVC stage ``gnm_pretrain``: the generality model: every piece with Composer_None,
class-balanced windows per category.

See pipeline/gnm/lm_job.py. Outputs ``models/gnm_pretrain/`` (params.pt in upstream's state-dict
layout, config.json, vocab.json, dictionary.pkl) and ``reports/gnm_pretrain/`` (metrics.json,
plots/loss.csv); checkpoints in ``models/.ckpt/gnm_pretrain/`` let a killed repro resume.
``gnm_pretrain.init``: upstream's generality .pt under ``weights/gnm_pretrain/`` to train from, or with
``steps: 0`` to import (its vocabulary: ``gnm_tokenize.vocab``; pipeline/gnm/released.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.gnm.lm_job import ENTRY, lm_inputs
from pipeline.gnm.released import import_init
from pipeline.gnm.tokens import TOKENS, events_meta
from pipeline.orchestration.training import train_stage

MODEL, REPORT = "models/gnm_pretrain", "reports/gnm_pretrain"


@flow(name="gnm_pretrain")
def gnm_pretrain() -> None:
    meta = events_meta("gnm_pretrain")
    metrics = train_stage(
        "gnm_pretrain",
        ENTRY,
        model=MODEL,
        report=REPORT,
        inputs=lm_inputs("generality", meta),
        deps=[TOKENS],
        manifest={"vocab_hash": meta["vocab_hash"]},
        import_init=import_init,
    )
    get_run_logger().info("gnm_pretrain: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_pretrain)
