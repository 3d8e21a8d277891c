"""The short adversarial loop: a generator and a discriminator, two AdamW optimizers, alternating.

``train_adversarial(generator, discriminator, objective, batches, cfg, out_dir)`` runs
``cfg.steps`` steps. Each step: (1) generator phase -- for each of ``grad_accum`` micro-batches
``objective.generator_step(G, D, batch, adversarial)`` (D frozen) is back-propagated, the
detached fakes are kept, then the generator optimizer steps; (2) discriminator phase -- from
``cfg.adv_start`` on, ``objective.discriminator_step(D, batch, fake)`` on the kept fakes, then the
discriminator optimizer steps. Before ``adv_start`` the generator trains on its reconstruction
terms only (``adversarial=False``) and the discriminator rests. Everything is a function of the
step, so a resumed run equals an uninterrupted one (checkpoints through ``checkpoint.py``:
both models in one safetensors file, both optimizers/schedulers in ``state.pt``).

The objective's ``Loss.stats`` (and the discriminator's) are averaged per logging window into
the history rows (``train_loss`` = generator loss, ``d_loss``, ``train_<stat>``, ``val_loss``,
``val_<stat>`` when ``val`` batches and ``objective.val_step`` exist).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import torch
from torch import nn

from pipeline.train import checkpoint as ckpt
from pipeline.train.bookkeeping import TrainResult, Window, fingerprint, progress_bar, resume_or_start
from pipeline.train.distributed import DistInfo, barrier, setup, wrap
from pipeline.train.loop import TrainConfig, param_groups, run_logger, seed_deterministic
from pipeline.train.schedule import make_scheduler


@dataclass
class AdversarialConfig(TrainConfig):
    """The loop's config plus the discriminator's learning rate and start; audiocraft's defaults."""

    lr: float = 3e-4  # generator
    disc_lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.9)  # audiocraft's EnCodec optimizers
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup_steps: int = 0
    final_lr_frac: float = 1.0
    adv_start: int = 0  # steps of reconstruction-only training before the adversarial terms
    eval_every: int = 50
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.adv_start < 0:
            raise ValueError("adv_start must be >= 0")


class AdversarialObjective(Protocol):
    """What ``train_adversarial`` calls; ``Loss`` is ``pipeline.train.objectives.Loss``. Optional,
    as in the main loop: ``setup(generator, device)``, ``hparams()``, ``val_step(generator, batch)``."""

    name: str

    def generator_step(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, adversarial: bool
    ) -> tuple[Any, Any]: ...  # (Loss, detached fake)

    def discriminator_step(self, discriminator: nn.Module, batch: Any, fake: Any) -> Any: ...  # Loss

    def batch_tokens(self, batch: Any) -> int: ...

    def to(self, batch: Any, device: torch.device) -> Any: ...


class _Both:
    """Two optimizers (or schedulers) behind one ``state_dict``/``load_state_dict``."""

    def __init__(self, g, d) -> None:
        self.g, self.d = g, d

    def state_dict(self) -> dict:
        return {"generator": self.g.state_dict(), "discriminator": self.d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.g.load_state_dict(state["generator"])
        self.d.load_state_dict(state["discriminator"])


def _clip(model: nn.Module, limit: float) -> float:
    return float(torch.nn.utils.clip_grad_norm_(model.parameters(), limit)) if limit > 0 else float("nan")


def train_adversarial(
    generator: nn.Module,
    discriminator: nn.Module,
    objective: AdversarialObjective,
    batches: Any,
    cfg: AdversarialConfig,
    out_dir: str | Path,
    resume: bool = True,
    *,
    val: Any = None,
    fingerprint_extra: Any = None,
    hooks: Sequence[Callable[[int, nn.Module], None]] = (),
    dist_info: DistInfo | None = None,
) -> TrainResult:
    log = run_logger()
    info = dist_info or setup(cfg.device)
    if (batches.rank, batches.world_size) != (info.rank, info.world_size):
        raise ValueError(
            f"batches are for rank {batches.rank}/{batches.world_size}, process is {info.rank}/{info.world_size}"
        )
    out_dir, dev = Path(out_dir), info.device
    generator.to(dev), discriminator.to(dev)
    if hasattr(objective, "setup"):
        objective.setup(generator, dev)
    both = nn.ModuleDict({"generator": generator, "discriminator": discriminator})
    opt_g = torch.optim.AdamW(param_groups(generator, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    opt_d = torch.optim.AdamW(
        param_groups(discriminator, cfg.weight_decay), lr=cfg.disc_lr, betas=cfg.betas, eps=cfg.eps
    )
    opts = _Both(opt_g, opt_d)
    scheds = _Both(
        make_scheduler(opt_g, cfg.warmup_steps, cfg.steps, cfg.final_lr_frac),
        make_scheduler(opt_d, cfg.warmup_steps, cfg.steps, cfg.final_lr_frac),
    )
    fp = fingerprint(cfg, objective, batches, info, fingerprint_extra)
    seed_deterministic(cfg.seed + info.rank, info.device)
    run = resume_or_start(out_dir, fp, both, opts, scheds, info, log, resume)

    g_fwd, d_fwd = wrap(generator, info), wrap(discriminator, info)
    bar = progress_bar(cfg, info, run.start, "train (adversarial)")
    for hook in hooks:
        hook(run.start, generator)
    for step in range(run.start, cfg.steps):
        t0 = time.perf_counter()
        adversarial = step >= cfg.adv_start
        generator.train(), discriminator.train()
        discriminator.requires_grad_(False)
        kept, g_loss = [], 0.0
        for micro in range(cfg.grad_accum):
            batch = objective.to(batches.batch(step * cfg.grad_accum + micro), dev)
            last_micro = micro == cfg.grad_accum - 1 or not info.distributed
            with contextlib.nullcontext() if last_micro else g_fwd.no_sync():
                out, fake = objective.generator_step(g_fwd, discriminator, batch, adversarial)
                (out.loss / cfg.grad_accum).backward()
            g_loss += float(out.loss.detach()) / cfg.grad_accum
            run.window.add({f"train_{k}": v for k, v in out.stats.items()}, 1.0 / cfg.grad_accum)
            kept.append((batch, fake))
            run.tokens += objective.batch_tokens(batch) * info.world_size
        discriminator.requires_grad_(True)
        if not math.isfinite(g_loss):
            raise FloatingPointError(f"generator loss is {g_loss} at step {step}")
        gnorm = _clip(generator, cfg.grad_clip)
        lr = opt_g.param_groups[0]["lr"]
        opt_g.step()
        opt_g.zero_grad(set_to_none=True)
        row_d = {}
        if adversarial:
            d_loss = 0.0
            for micro, (batch, fake) in enumerate(kept):
                last_micro = micro == len(kept) - 1 or not info.distributed
                with contextlib.nullcontext() if last_micro else d_fwd.no_sync():
                    d_out = objective.discriminator_step(d_fwd, batch, fake)
                    (d_out.loss / cfg.grad_accum).backward()
                d_loss += float(d_out.loss.detach()) / cfg.grad_accum
                run.window.add(d_out.stats, 1.0 / cfg.grad_accum)
            _clip(discriminator, cfg.grad_clip)
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)
            row_d = {"d_loss": d_loss}
        scheds.g.step()
        with warnings.catch_warnings():  # before adv_start the discriminator's schedule advances unused
            warnings.simplefilter("ignore", UserWarning)
            scheds.d.step()
        del kept
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        run.seconds += time.perf_counter() - t0
        done = step + 1
        run.window.add({"train_loss": g_loss, **row_d})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(g=f"{g_loss:.3f}", **({"d": f"{row_d['d_loss']:.3f}"} if row_d else {}), refresh=False)
        if done % cfg.log_every == 0 and info.is_main:
            log.info(
                "step %d/%d g_loss %.4f%s lr %.3e grad_norm %.3f samples/s %.0f",
                done,
                cfg.steps,
                g_loss,
                f" d_loss {row_d['d_loss']:.4f}" if row_d else "",
                lr,
                gnorm,
                run.tokens / max(run.seconds, 1e-9),
            )
        if done % cfg.eval_every == 0 or done == cfg.steps:
            row = {"step": done, "lr": lr, **run.window.means(info, dev)}
            run.window = Window()
            if val is not None and hasattr(objective, "val_step"):
                row |= evaluate(generator, objective, val, cfg.eval_batches, info)
                if info.is_main:
                    log.info("step %d: train loss %.4f, val loss %.4f", done, row["train_loss"], row["val_loss"])
            run.history.append(row)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            open_window = run.window.state(info, dev)
            if info.is_main:
                ckpt.save(
                    out_dir,
                    done,
                    both,
                    opts,
                    scheds,
                    fp,
                    history=run.history,
                    keep=cfg.keep_checkpoints,
                    extra=run.extra(open_window),
                )
            barrier(info)
        for hook in hooks:
            hook(done, generator)
    if bar is not None:
        bar.close()
    return run.result(generator, fp)


@torch.no_grad()
def evaluate(
    generator: nn.Module, objective: AdversarialObjective, val: Any, max_batches: int | None, info: DistInfo
) -> dict:
    """``val_loss`` and ``val_<stat>``: weighted means over every process's validation shard."""
    was = generator.training
    generator.eval()
    window = Window()
    for batch in val.once(max_batches):
        out = objective.val_step(generator, objective.to(batch, info.device))
        w = float(out.weight)
        window.add({"val_loss": float(out.loss), **{f"val_{k}": v for k, v in out.stats.items()}}, w)
    generator.train(was)
    means = window.means(info, info.device)
    if "val_loss" not in means:
        raise ValueError("validation set is empty")
    return means
