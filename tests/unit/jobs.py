"""The typed training job the unit tests hand a family's ``run_job``: CPU, outputs under one folder."""

from __future__ import annotations

from pathlib import Path

from pipeline.train.job import TrainJob


def cpu_job(stage: str, p, folder: Path, inputs: dict, seed: int = 1, **kw) -> TrainJob:
    """``stage``'s job with params ``p``: checkpoints, model and report in ``folder``/ckpt, model, report."""
    return TrainJob(
        stage=stage,
        p=p,
        seed=seed,
        device="cpu",
        ckpt_dir=folder / "ckpt",
        model_dir=folder / "model",
        report_dir=folder / "report",
        inputs=inputs,
        **kw,
    )
