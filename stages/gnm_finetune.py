"""DVC stage ``gnm_finetune``: the mastery model: generality weights + composer tokens
+ style adapters (separate clipping).

See pipeline/gnm/lm_job.py. Outputs ``models/gnm_finetune/`` (params.pt in upstream's state-dict
layout, config.json, vocab.json, dictionary.pkl) and ``reports/gnm_finetune/`` (metrics.json,
plots/loss.csv); checkpoints in ``models/.ckpt/gnm_finetune/`` let a killed repro resume.
``gnm_finetune.init``: a released GnM .pt under ``weights/gnm_finetune/`` instead of gnm_pretrain's
weights, or with ``steps: 0`` imported (pipeline/gnm/released.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.config import repo_root
from pipeline.gnm.lm_job import ENTRY, lm_inputs
from pipeline.gnm.released import import_init
from pipeline.gnm.tokens import TOKENS, events_meta
from pipeline.orchestration.training import train_stage

MODEL, REPORT, INIT = "models/gnm_finetune", "reports/gnm_finetune", "models/gnm_pretrain"


@flow(name="gnm_finetune")
def gnm_finetune() -> None:
    meta = events_meta("gnm_finetune")
    inputs = lm_inputs("mastery", meta, init_from=str(repo_root() / INIT))
    metrics = train_stage(
        "gnm_finetune",
        ENTRY,
        model=MODEL,
        report=REPORT,
        inputs=inputs,
        deps=[TOKENS, INIT],
        manifest={"vocab_hash": meta["vocab_hash"]},
        import_init=import_init,
    )
    get_run_logger().info("gnm_finetune: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_finetune)
