"""What both training loops keep around their steps: the logging window, the resume fingerprint,
the resume point, the progress bar and the result.

``loop.train`` and ``adversarial.train_adversarial`` differ only in what a step does; everything
here is shared so a history row, a checkpoint's resume state and a ``TrainResult`` mean the same
in both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipeline.train import checkpoint as ckpt
from pipeline.train.distributed import DistInfo, all_reduce_sum, barrier, union_keys

# Config fields that do not change the trained weights: left out of the resume fingerprint.
RUNTIME_FIELDS = (
    "device",
    "compile",
    "progress",
    "log_every",
    "eval_every",
    "eval_batches",
    "checkpoint_every",
    "keep_checkpoints",
)


@dataclass
class TrainResult:
    model: torch.nn.Module  # unwrapped, on its training device
    history: list[dict[str, float]] = field(default_factory=list)  # step, train_loss, val_loss, lr, stats
    val_loss: float | None = None
    val_metrics: dict[str, float] = field(default_factory=dict)  # the last validation row's val_* values
    tokens: int = 0  # items fed to the model (tokens, samples), all processes
    train_seconds: float = 0.0  # optimizer-step time (no eval/checkpoint), resumed runs included
    tokens_per_s: float = 0.0
    resumed_from: int | None = None  # the step a resumed run continued from; None for a fresh run
    fingerprint: str = ""


class Window:
    """Weighted sums of named floats over a logging window (audiocraft's averager), reduced across
    processes. ``state`` is the open window summed over processes: rank 0 saves it and alone
    reloads it, so a resumed run's means count every process once and equal an uninterrupted run's."""

    def __init__(self, state: dict | None = None) -> None:
        self.sums: dict[str, float] = dict((state or {}).get("sums", {}))
        self.counts: dict[str, float] = dict((state or {}).get("counts", {}))

    def add(self, stats: dict[str, float], weight: float = 1.0) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * weight
            self.counts[k] = self.counts.get(k, 0.0) + weight

    def _reduced(self, info: DistInfo, device: torch.device) -> tuple[list[str], torch.Tensor]:
        keys = union_keys(self.sums, info)  # every rank reduces the same table, even an empty shard
        t = torch.tensor(
            [[self.sums.get(k, 0.0), self.counts.get(k, 0.0)] for k in keys], dtype=torch.float64, device=device
        ).reshape(len(keys), 2)
        return keys, all_reduce_sum(t, info) if keys else t

    def means(self, info: DistInfo, device: torch.device) -> dict[str, float]:
        """A collective: every rank calls it."""
        keys, t = self._reduced(info, device)
        return {k: float(t[i, 0] / t[i, 1].clamp(min=1e-12)) for i, k in enumerate(keys)}

    def state(self, info: DistInfo, device: torch.device) -> dict:
        """A collective: every rank calls it."""
        keys, t = self._reduced(info, device)
        return {
            "sums": {k: float(t[i, 0]) for i, k in enumerate(keys)},
            "counts": {k: float(t[i, 1]) for i, k in enumerate(keys)},
        }


def fingerprint(cfg: Any, objective: Any, batches: Any, info: DistInfo, extra: Any) -> str:
    """Everything that changes the trained weights: a checkpoint resumes only when this is equal."""
    return ckpt.fingerprint(
        {
            "train": {k: v for k, v in asdict(cfg).items() if k not in RUNTIME_FIELDS},
            "objective": objective.name,
            "world_size": info.world_size,
            "hparams": objective.hparams() if hasattr(objective, "hparams") else None,
            "batch_size": getattr(batches, "batch_size", None),
            "batches": batches.describe() if hasattr(batches, "describe") else None,
            "extra": extra,
        }
    )


@dataclass
class Progress:
    """Where a run starts: step, history, counters and the open logging window."""

    start: int = 0
    history: list[dict] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    window: Window = field(default_factory=Window)
    resumed: bool = False

    def extra(self, window_state: dict) -> dict:
        """What a checkpoint stores besides the weights and optimizer state."""
        return {"tokens": self.tokens, "train_seconds": self.seconds, "window": window_state}

    def result(self, model: torch.nn.Module, fp: str) -> TrainResult:
        last = next((h for h in reversed(self.history) if "val_loss" in h), {})
        return TrainResult(
            model=model,
            history=self.history,
            val_loss=last.get("val_loss"),
            val_metrics={k: v for k, v in last.items() if k.startswith("val_") and k != "val_loss"},
            tokens=self.tokens,
            train_seconds=self.seconds,
            tokens_per_s=self.tokens / max(self.seconds, 1e-9),
            resumed_from=self.start if self.resumed else None,
            fingerprint=fp,
        )


def resume_or_start(
    out_dir: str | Path, fp: str, module, optimizer, scheduler, info: DistInfo, log, resume: bool = True
) -> Progress:
    """The newest checkpoint in ``out_dir`` when it was written with fingerprint ``fp`` (loaded
    into ``module``, ``optimizer``, ``scheduler``); otherwise a fresh start, which clears ``out_dir``."""
    last = ckpt.latest(out_dir) if resume else None
    state = None
    if last is not None:
        have = ckpt.read_meta(last).get("fingerprint")
        if have == fp:
            state = ckpt.load(last, module, optimizer, scheduler)
        elif info.is_main:
            log.info(
                "checkpoint %s was written with other training params (hash %s, now %s): starting fresh", last, have, fp
            )
    barrier(info)  # every rank has read the checkpoint before rank 0 may clear it
    if state is None:
        if info.is_main:
            ckpt.clear(out_dir)
        barrier(info)
        return Progress()
    extra = state["extra"]
    if info.is_main:
        log.info("resuming from %s at step %d", out_dir, state["step"])
    return Progress(
        start=state["step"],
        history=list(state["history"]),
        tokens=int(extra["tokens"]),
        seconds=float(extra["train_seconds"]),
        window=Window(extra.get("window") if info.is_main else None),
        resumed=True,
    )


def progress_bar(cfg: Any, info: DistInfo, start: int, desc: str = "train"):
    """A tqdm bar on rank 0 when ``cfg.progress``; None otherwise."""
    if not (cfg.progress and info.is_main):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=start, desc=desc, unit="step", mininterval=2.0, dynamic_ncols=True)
