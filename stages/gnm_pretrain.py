"""DVC stage ``gnm_pretrain``: the generality model: every piece with Composer_None,
class-balanced windows per category.

See pipeline/gnm/lm_job.py. Outputs ``models/gnm_pretrain/`` (params.pt in upstream's state-dict
layout, config.json, vocab.json, dictionary.pkl) and ``reports/gnm_pretrain/`` (metrics.json,
plots/loss.csv); checkpoints in ``models/.ckpt/gnm_pretrain/`` let a killed repro resume.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.gnm.lm_job import run_lm_stage


@flow(name="gnm_pretrain")
def gnm_pretrain() -> None:
    metrics = run_lm_stage("gnm_pretrain", "generality", None)
    get_run_logger().info("gnm_pretrain: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_pretrain)
