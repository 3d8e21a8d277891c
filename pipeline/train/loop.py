"""The training loop (nanoGPT style): one explicit loop that takes an objective.

``train(model, objective, batches, cfg, out_dir, resume=True, val=...)`` runs ``cfg.steps``
optimizer steps of AdamW (betas 0.9/0.95, eps 1e-5, weight decay 0.1 on matrices and
embeddings, none on norms/biases) with linear warm-up then linear decay to ``final_lr_frac``
of the peak, ``grad_accum`` micro-batches per step, grad-norm clipping, bf16 autocast and
optional ``torch.compile`` on CUDA only, validation every ``eval_every`` steps and at the end,
and a checkpoint in ``out_dir`` every ``checkpoint_every`` steps and at the end.
Each history row holds ``train_loss``, ``lr``, the objective's ``Loss.stats`` averaged over the
window (``train_<stat>``), and on validation ``val_loss``, ``val_<stat>`` and whatever the
objective's ``val_metrics`` adds (perplexity for the LM). The objective's ``setup(model, device)``
runs once the model is on its device (frozen reference models); its ``hparams()`` and the
batches' ``describe()`` go into the resume fingerprint.
With ``resume=True`` it continues from the newest checkpoint in ``out_dir`` if that was written
with the same training params (fingerprint); otherwise it logs why and starts fresh.
Under torchrun (see ``distributed``) the model is DDP-wrapped and only rank 0 writes; each rank's
loss is weighted by its share of the global batch's ``Loss.weight`` (:func:`_rank_share`), so N
processes with batch B/N follow one process's curve with batch B.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from pipeline.train import checkpoint as ckpt
from pipeline.train.batches import Batches
from pipeline.train.bookkeeping import TrainResult, Window, fingerprint, progress_bar, resume_or_start
from pipeline.train.distributed import DistInfo, all_reduce_sum, barrier, setup, union_keys, unwrap, wrap
from pipeline.train.objectives import Objective
from pipeline.train.schedule import make_scheduler


@dataclass
class TrainConfig:
    steps: int
    grad_accum: int = 1
    lr: float = 3e-4
    warmup_steps: int = 200
    final_lr_frac: float = 0.1
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-5
    grad_clip: float = 1.0  # 0 disables clipping
    eval_every: int = 100
    eval_batches: int | None = None  # cap on validation batches per process (None = all)
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 42
    device: str = "auto"
    compile: bool = False  # CUDA only
    bf16: bool = True  # autocast, CUDA only
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "grad_accum", "eval_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup_steps < 0 or self.lr <= 0:
            raise ValueError("TrainConfig needs warmup_steps >= 0 and lr > 0")
        self.betas = tuple(self.betas)


# Called with (start step, model) before the first step, then (completed steps, model) after each.
Hook = Callable[[int, torch.nn.Module], None]


def run_logger() -> logging.Logger:
    """The Prefect run logger inside a flow/task, else a stdlib logger."""
    if "prefect" in sys.modules:
        try:
            from prefect import get_run_logger

            return get_run_logger()
        except Exception:
            pass
    return logging.getLogger("ostinato.train")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """nanoGPT grouping: decay >= 2-D tensors (matmuls, embeddings), not norms/biases."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def seed_deterministic(seed: int, device: torch.device) -> None:
    """Seed torch and ask for deterministic kernels: same params and seed, same weights. Some
    multithreaded CPU kernels accumulate in a thread-dependent order (measured: the CLaMP scorer's
    weights differed from run to run on 2 threads and were equal on 1, and equal on 2 with this
    flag). ``warn_only``: an op without a deterministic implementation warns instead of failing."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS' deterministic mode
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seed)


def train(
    model: torch.nn.Module,
    objective: Objective,
    batches: Batches,
    cfg: TrainConfig,
    out_dir: str | Path,
    resume: bool = True,
    *,
    val: Batches | None = None,
    fingerprint_extra: Any = None,
    hooks: Sequence[Hook] = (),
    dist_info: DistInfo | None = None,
) -> TrainResult:
    log = run_logger()
    info = dist_info or setup(cfg.device)
    if (batches.rank, batches.world_size) != (info.rank, info.world_size):
        raise ValueError(
            f"batches are for rank {batches.rank}/{batches.world_size}, process is {info.rank}/{info.world_size}"
        )
    out_dir = Path(out_dir)
    cuda = info.device.type == "cuda"
    model.to(info.device)
    if hasattr(objective, "setup"):
        objective.setup(model, info.device)
    opt = torch.optim.AdamW(
        param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, fused=cuda or None
    )
    sched = make_scheduler(opt, cfg.warmup_steps, cfg.steps, cfg.final_lr_frac)
    fp = fingerprint(cfg, objective, batches, info, fingerprint_extra)
    seed_deterministic(cfg.seed + info.rank, info.device)
    run = resume_or_start(out_dir, fp, model, opt, sched, info, log, resume)

    fwd = wrap(model, info)
    if cfg.compile and cuda:
        fwd = torch.compile(fwd)
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda and cfg.bf16 else contextlib.nullcontext
    bar = progress_bar(cfg, info, run.start)
    for hook in hooks:
        hook(run.start, model)
    for step in range(run.start, cfg.steps):
        t0 = time.perf_counter()
        model.train()
        step_loss = 0.0
        for micro in range(cfg.grad_accum):
            batch = objective.to(batches.batch(step * cfg.grad_accum + micro), info.device)
            sync = micro == cfg.grad_accum - 1 or not info.distributed
            with contextlib.nullcontext() if sync else fwd.no_sync(), amp():
                out = objective(fwd, batch)
                loss = out.loss * _rank_share(out.weight, info)
                (loss / cfg.grad_accum).backward()
            step_loss += float(loss.detach()) / cfg.grad_accum
            run.window.add({f"train_{k}": v for k, v in out.stats.items()}, 1.0 / cfg.grad_accum)
            run.tokens += objective.batch_tokens(batch) * info.world_size
        if not math.isfinite(step_loss):
            raise FloatingPointError(f"training loss is {step_loss} at step {step}")
        gnorm = (
            float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
            if cfg.grad_clip > 0
            else float("nan")
        )
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize(info.device)
        run.seconds += time.perf_counter() - t0
        done = step + 1
        run.window.add({"train_loss": step_loss})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.3f}", lr=f"{lr:.2e}", refresh=False)
        if done % cfg.log_every == 0 and info.is_main:
            log.info(
                "step %d/%d loss %.4f lr %.3e grad_norm %.3f tok/s %.0f",
                done,
                cfg.steps,
                step_loss,
                lr,
                gnorm,
                run.tokens / max(run.seconds, 1e-9),
            )
        if done % cfg.eval_every == 0 or done == cfg.steps:
            row = {"step": done, "lr": lr, **run.window.means(info, info.device)}
            run.window = Window()
            if val is not None:
                vloss, vstats = evaluate_stats(model, objective, val, cfg.eval_batches, info, amp)
                row["val_loss"] = vloss
                row |= {f"val_{k}": v for k, v in vstats.items()}
                if hasattr(objective, "val_metrics"):
                    row |= objective.val_metrics(vloss, vstats)
                if info.is_main:
                    log.info(
                        "step %d: train loss %.4f, %s",
                        done,
                        row["train_loss"],
                        ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k.startswith("val_")),
                    )
            run.history.append(row)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            window = run.window.state(info, info.device)
            if info.is_main:
                ckpt.save(
                    out_dir,
                    done,
                    model,
                    opt,
                    sched,
                    fp,
                    history=run.history,
                    keep=cfg.keep_checkpoints,
                    extra=run.extra(window),
                )
            barrier(info)
        for hook in hooks:
            hook(done, model)
    if bar is not None:
        bar.close()
    return run.result(model, fp)


@torch.no_grad()
def evaluate_stats(
    model: torch.nn.Module,
    objective: Objective,
    val: Batches,
    max_batches: int | None,
    info: DistInfo,
    amp=contextlib.nullcontext,
) -> tuple[float, dict[str, float]]:
    """Validation loss and ``Loss.stats``, each a ``Loss.weight``-weighted mean over every
    process's shard."""
    model = unwrap(model)
    was_training = model.training
    model.eval()
    acc = torch.zeros(2, dtype=torch.float64, device=info.device)
    sums: dict[str, float] = {}
    for batch in val.once(max_batches):
        with amp():
            out = objective(model, objective.to(batch, info.device))
        w = out.weight.detach().double()
        acc += torch.stack([out.loss.detach().double() * w, w])
        for k, v in out.stats.items():
            sums[k] = sums.get(k, 0.0) + float(v) * float(w)
    names = union_keys(sums, info)  # a rank whose shard is empty still joins the same reductions
    all_reduce_sum(acc, info)
    model.train(was_training)
    if float(acc[1]) == 0:
        raise ValueError("validation set has no target tokens")
    if not names:
        return float(acc[0] / acc[1]), {}
    stats = all_reduce_sum(
        torch.tensor([sums.get(k, 0.0) for k in names], dtype=torch.float64, device=info.device), info
    )
    return float(acc[0] / acc[1]), {k: float(v / acc[1]) for k, v in zip(names, stats)}


def _rank_share(weight: torch.Tensor, info: DistInfo) -> float:
    """``world * w_rank / sum(w)``: DDP averages the ranks' gradients, so scaling each rank's mean
    loss by its share of the items (``Loss.weight``: target tokens, pairs) makes the update -- and
    the logged loss, a mean over ranks -- the one process's mean over the whole global batch, even
    when the ranks' batches hold different numbers of tokens (padding)."""
    if not info.distributed:
        return 1.0
    w = weight.detach().to(info.device, torch.float64).reshape(1)
    total = all_reduce_sum(w.clone(), info)
    return float(w * info.world_size / total.clamp(min=1e-12))
