"""The typed training job, its launcher, and the writer of training outputs.

A family writes ``run_job(job: TrainJob) -> dict | None``: build the model, the batches and the
objective from ``job.p`` (the stage's validated params section) and ``job.inputs`` (what the stage
resolved: paths, segment lists, a tokenizer), call the training loop inside
``with distributed.session(job.device) as info:``, and on rank 0 save its weights and call
:func:`write_training_outputs`. The stage calls ``pipeline.orchestration.training.train_stage``,
which builds the job and calls :func:`run_training`: in this process, or under torchrun, where
the job crosses to each worker as JSON and is validated again on arrival.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import ENVIRONMENT, split_timings
from pipeline.params import SECTIONS
from pipeline.params.base import Section
from pipeline.train.loop import TrainConfig

LEADING = ("step", "train_loss", "val_loss")


@dataclass
class TrainJob:
    """Everything a training worker reads; defaults live in the params models only."""

    stage: str  # the params section (and stage) name
    p: Section  # that section, validated
    seed: int  # base.seed
    device: str  # runtime.device
    ckpt_dir: Path  # resumable checkpoints, outside the DVC outputs
    model_dir: Path | None  # the model output (temp dir until commit); None for a stage without one
    report_dir: Path
    inputs: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)  # params + input hashes: resume only when equal
    resume: bool = True

    def train_config(self, cls: type[TrainConfig] = TrainConfig, **overrides: Any) -> TrainConfig:
        """The loop's config: every field of ``cls`` that the params section sets, the seed, the device."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in self.p.model_dump().items() if k in names}
        return cls(**(values | {"seed": self.seed, "device": self.device} | overrides))

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["p"] = self.p.model_dump(mode="json")
        for k in ("ckpt_dir", "model_dir", "report_dir"):
            d[k] = None if d[k] is None else str(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TrainJob":
        d = dict(d)
        d["p"] = SECTIONS[d["stage"]].model_validate(d["p"])
        for k in ("ckpt_dir", "model_dir", "report_dir"):
            d[k] = None if d[k] is None else Path(d[k])
        return cls(**d)


def run_training(entry: str, job: TrainJob, launcher: str = "python", nproc: int = 1) -> dict:
    """Run ``entry`` ("package.module:function") on ``job`` in this process, or under torchrun
    with ``nproc`` processes (the caller, a Prefect flow, stays the parent); return the metrics
    that rank 0 wrote to ``<report_dir>/metrics.json``."""
    if launcher == "torchrun":
        from pipeline.train.distributed import launch

        launch("pipeline.train.job:run_entry", {"entry": entry, "job": job.to_json()}, nproc)
        report = Path(job.report_dir)
        timings = json.loads((report / ENVIRONMENT).read_text())["timings"] if (report / ENVIRONMENT).exists() else {}
        return json.loads((report / "metrics.json").read_text()) | timings
    if launcher != "python":
        raise ValueError(f"runtime.launcher must be 'python' or 'torchrun', got {launcher!r}")
    return _resolve(entry)(job)


def run_entry(entry: str, job: dict) -> dict | None:
    """A torchrun worker: the job arrives as JSON and is validated again."""
    return _resolve(entry)(TrainJob.from_json(job))


def _resolve(entry: str):
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)


def history_columns(history: list[dict[str, Any]]) -> list[str]:
    """step, train_loss, val_loss, then every other column (stats, val metrics) sorted, lr last."""
    seen = {k for row in history for k in row}
    rest = sorted(seen - set(LEADING) - {"lr"})
    return [k for k in LEADING if k in seen or k != "val_loss"] + rest + ["lr"] * ("lr" in seen)


def write_training_outputs(result, report_dir: str | Path, steps: int, extra: dict | None = None) -> dict:
    """``<report_dir>/metrics.json`` (final validation metrics, size, resume point + ``extra``) and
    ``<report_dir>/plots/loss.csv`` (every history column); returns the metrics with the run's
    speed, which the stage's commit records in ``environment.json``: never in a hashed output."""
    report_dir = Path(report_dir)
    (report_dir / "plots").mkdir(parents=True, exist_ok=True)
    model = result.model
    metrics = {
        "val_loss": rounded(result.val_loss),
        **{k: rounded(v) for k, v in result.val_metrics.items()},
        "tokens_per_s": round(result.tokens_per_s, 1),
        "train_seconds": round(result.train_seconds, 2),
        "tokens": result.tokens,
        "steps": steps,
        "parameters": sum(p.numel() for p in model.parameters()),
        "resumed_from_step": result.resumed_from,
        **(extra or {}),
    }
    stable, timings = split_timings(metrics)
    write_json(report_dir / "metrics.json", stable)
    write_json(report_dir / ENVIRONMENT, {"timings": timings})  # the commit rewrites it, timings kept
    cols = history_columns(result.history)
    with open(report_dir / "plots" / "loss.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for row in result.history:
            w.writerow({k: (float(f"{row[k]:.4g}") if k == "lr" and k in row else rounded(row.get(k))) for k in cols})
    return metrics


def rounded(x, nd: int = 5):
    return None if x is None else round(float(x), nd) if isinstance(x, float) else x
