"""DVC stage ``gnm_scratch``: the scratch baseline: the generality shape (params
gnm_pretrain.model, no adapters) trained fresh on the mastery composers' pieces only.

See pipeline/gnm/lm_job.py. Outputs ``models/gnm_scratch/`` (params.pt in upstream's state-dict
layout, config.json, vocab.json, dictionary.pkl) and ``reports/gnm_scratch/`` (metrics.json,
plots/loss.csv); checkpoints in ``models/.ckpt/gnm_scratch/`` let a killed repro resume.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.gnm.lm_job import run_lm_stage


@flow(name="gnm_scratch")
def gnm_scratch() -> None:
    metrics = run_lm_stage("gnm_scratch", "scratch")
    get_run_logger().info("gnm_scratch: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_scratch)
