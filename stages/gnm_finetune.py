"""DVC stage ``gnm_finetune``: the mastery model: generality weights + composer tokens
+ style adapters (separate clipping).

See pipeline/gnm/lm_job.py. Outputs ``models/gnm_finetune/`` (params.pt in upstream's state-dict
layout, config.json, vocab.json, dictionary.pkl) and ``reports/gnm_finetune/`` (metrics.json,
plots/loss.csv); checkpoints in ``models/.ckpt/gnm_finetune/`` let a killed repro resume.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.gnm.lm_job import run_lm_stage


@flow(name="gnm_finetune")
def gnm_finetune() -> None:
    metrics = run_lm_stage("gnm_finetune", "mastery", "models/gnm_pretrain")
    get_run_logger().info("gnm_finetune: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_finetune)
