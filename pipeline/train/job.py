"""One launcher and one writer of training outputs for every training stage.

A family writes ``run_job(job: dict) -> dict | None``: build the model, the batches and the
objective from the JSON-able ``job``, call :func:`pipeline.train.loop.train`, and on rank 0 save
its weights and call :func:`write_training_outputs`. The stage (a Prefect flow) calls
``run_training("pipeline.<family>.<module>:run_job", job, runtime.launcher, runtime.nproc_per_node)``,
which runs the job in this process or relaunches it under torchrun, and returns the metrics.

Every job carries ``train`` (TrainConfig kwargs, see :func:`train_config`), ``ckpt_dir``,
``model_dir``, ``report_dir`` and optionally ``resume`` and ``fingerprint``.
"""

from __future__ import annotations

import csv
import importlib
import json
from pathlib import Path
from typing import Any

from pipeline.params.train import TrainParams

TRAIN_KEYS = tuple(k for k in TrainParams.model_fields if k != "batch_size")
LEADING = ("step", "train_loss", "val_loss")


class IncompatibleInputError(ValueError):
    """Two inputs of a stage were made with different tokenizers (or vocabularies)."""


def train_config(p: TrainParams, seed: int, device: str) -> dict:
    """TrainConfig kwargs from a training params section (+ base.seed, runtime.device)."""
    return {**{k: getattr(p, k) for k in TRAIN_KEYS}, "seed": seed, "device": device}


def run_training(entry: str, job: dict, launcher: str = "python", nproc: int = 1) -> dict:
    """Run ``entry`` ("package.module:function") on ``job`` in this process, or under torchrun
    with ``nproc`` processes (the caller, a Prefect flow, stays the parent); return the metrics
    that rank 0 wrote to ``<report_dir>/metrics.json``."""
    if launcher == "torchrun":
        from pipeline.train.distributed import launch

        launch(entry, {"job": job}, nproc)
        return json.loads((Path(job["report_dir"]) / "metrics.json").read_text())
    if launcher != "python":
        raise ValueError(f"runtime.launcher must be 'python' or 'torchrun', got {launcher!r}")
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)(job)


def check_same_tokenizer(have: str | None, want: str | None, what: str, fix: str) -> None:
    """The one tokenizer-hash check: ``what`` was made with ``have``, the data uses ``want``."""
    if have and want and have != want:
        raise IncompatibleInputError(f"{what} was made with tokenizer {have}, the data uses {want}: {fix}")


def history_columns(history: list[dict[str, Any]]) -> list[str]:
    """step, train_loss, val_loss, then every other column (stats, val metrics) sorted, lr last."""
    seen = {k for row in history for k in row}
    rest = sorted(seen - set(LEADING) - {"lr"})
    return [k for k in LEADING if k in seen or k != "val_loss"] + rest + ["lr"] * ("lr" in seen)


def write_training_outputs(result, report_dir: str | Path, steps: int, extra: dict | None = None) -> dict:
    """``<report_dir>/metrics.json`` (final validation metrics, throughput, size, resume point +
    ``extra``) and ``<report_dir>/plots/loss.csv`` (every history column); returns the metrics."""
    report_dir = Path(report_dir)
    (report_dir / "plots").mkdir(parents=True, exist_ok=True)
    model = result.model
    metrics = {"val_loss": rounded(result.val_loss), **{k: rounded(v) for k, v in result.val_metrics.items()},
               "tokens_per_s": round(result.tokens_per_s, 1), "train_seconds": round(result.train_seconds, 2),
               "tokens": result.tokens, "steps": steps,
               "parameters": sum(p.numel() for p in model.parameters()),
               "resumed_from_step": result.resumed_from, **(extra or {})}
    (report_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    cols = history_columns(result.history)
    with open(report_dir / "plots" / "loss.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for row in result.history:
            w.writerow({k: (float(f"{row[k]:.4g}") if k == "lr" and k in row else rounded(row.get(k))) for k in cols})
    return metrics


def write_json(path: str | Path, obj: Any) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def rounded(x, nd: int = 5):
    return None if x is None else round(float(x), nd) if isinstance(x, float) else x
