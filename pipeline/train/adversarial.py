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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from pipeline.train import checkpoint as ckpt
from pipeline.train.distributed import DistInfo, all_reduce_sum, barrier, setup, union_keys, wrap
from pipeline.train.loop import TrainConfig, TrainResult, param_groups, run_logger, seed_deterministic
from pipeline.train.schedule import make_scheduler

_RUNTIME_FIELDS = ("device", "progress", "log_every", "eval_every", "eval_batches", "checkpoint_every",
                   "keep_checkpoints")


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


class _Both:
    """Two optimizers (or schedulers) behind one ``state_dict``/``load_state_dict``."""

    def __init__(self, g, d) -> None:
        self.g, self.d = g, d

    def state_dict(self) -> dict:
        return {"generator": self.g.state_dict(), "discriminator": self.d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.g.load_state_dict(state["generator"])
        self.d.load_state_dict(state["discriminator"])


class _Window:
    """Sums of named floats over a logging window, reduced across processes."""

    def __init__(self, state: dict | None = None) -> None:
        """``state``: a checkpoint's open window, so a resumed run logs the same means."""
        self.sums: dict[str, float] = dict((state or {}).get("sums", {}))
        self.counts: dict[str, float] = dict((state or {}).get("counts", {}))

    def state(self, info: DistInfo, device: torch.device) -> dict:
        """The window summed over processes (a collective: every rank calls it); rank 0 saves it
        and alone reloads it, so a resumed run's means count every process once."""
        keys = union_keys(self.sums, info)
        if not keys:
            return {"sums": {}, "counts": {}}
        t = self._table(keys, device)
        all_reduce_sum(t, info)
        return {"sums": {k: float(t[i, 0]) for i, k in enumerate(keys)},
                "counts": {k: float(t[i, 1]) for i, k in enumerate(keys)}}

    def _table(self, keys: list[str], device: torch.device) -> torch.Tensor:
        return torch.tensor([[self.sums.get(k, 0.0), self.counts.get(k, 0.0)] for k in keys], dtype=torch.float64,
                            device=device)

    def add(self, stats: dict[str, float], weight: float = 1.0) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * weight
            self.counts[k] = self.counts.get(k, 0.0) + weight

    def means(self, info: DistInfo, device: torch.device) -> dict[str, float]:
        keys = union_keys(self.sums, info)  # every rank reduces the same table, even an empty shard
        if not keys:
            return {}
        t = self._table(keys, device)
        all_reduce_sum(t, info)
        return {k: float(t[i, 0] / t[i, 1].clamp(min=1e-12)) for i, k in enumerate(keys)}


def _clip(model: nn.Module, limit: float) -> float:
    return float(torch.nn.utils.clip_grad_norm_(model.parameters(), limit)) if limit > 0 else float("nan")


def train_adversarial(generator: nn.Module, discriminator: nn.Module, objective: Any, batches: Any,
                      cfg: AdversarialConfig, out_dir: str | Path, resume: bool = True, *, val: Any = None,
                      fingerprint_extra: Any = None, hooks: Sequence[Callable[[int, nn.Module], None]] = (),
                      dist_info: DistInfo | None = None) -> TrainResult:
    log = run_logger()
    info = dist_info or setup(cfg.device)
    if (batches.rank, batches.world_size) != (info.rank, info.world_size):
        raise ValueError(f"batches are for rank {batches.rank}/{batches.world_size}, "
                         f"process is {info.rank}/{info.world_size}")
    out_dir, dev = Path(out_dir), info.device
    generator.to(dev), discriminator.to(dev)
    if hasattr(objective, "setup"):
        objective.setup(generator, dev)
    both = nn.ModuleDict({"generator": generator, "discriminator": discriminator})
    opt_g = torch.optim.AdamW(param_groups(generator, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    opt_d = torch.optim.AdamW(param_groups(discriminator, cfg.weight_decay), lr=cfg.disc_lr, betas=cfg.betas,
                              eps=cfg.eps)
    opts = _Both(opt_g, opt_d)
    scheds = _Both(make_scheduler(opt_g, cfg.warmup_steps, cfg.steps, cfg.final_lr_frac),
                   make_scheduler(opt_d, cfg.warmup_steps, cfg.steps, cfg.final_lr_frac))
    fp = ckpt.fingerprint({"train": {k: v for k, v in asdict(cfg).items() if k not in _RUNTIME_FIELDS},
                           "objective": objective.name, "world_size": info.world_size,
                           "hparams": objective.hparams() if hasattr(objective, "hparams") else None,
                           "batches": batches.describe() if hasattr(batches, "describe") else None,
                           "extra": fingerprint_extra})
    seed_deterministic(cfg.seed + info.rank, info.device)
    start, history, extra = 0, [], {"tokens": 0, "train_seconds": 0.0}
    last = ckpt.latest(out_dir) if resume else None
    if last is not None and ckpt.read_meta(last).get("fingerprint") == fp:
        state = ckpt.load(last, both, opts, scheds)
        start, history, extra = state["step"], list(state["history"]), dict(state["extra"])
        if info.is_main:
            log.info("resuming adversarial training from %s at step %d/%d", last, start, cfg.steps)
    else:
        if last is not None and info.is_main:
            log.info("checkpoint %s was written with other training params: starting fresh", last)
        barrier(info)
        if info.is_main:
            ckpt.clear(out_dir)
    barrier(info)

    g_fwd, d_fwd = wrap(generator, info), wrap(discriminator, info)
    tokens, seconds, window = int(extra["tokens"]), float(extra["train_seconds"]), _Window(extra.get("window") if info.is_main else None)
    bar = _progress(cfg, info, start)
    for step in range(start, cfg.steps):
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
            window.add({f"train_{k}": v for k, v in out.stats.items()}, 1.0 / cfg.grad_accum)
            kept.append((batch, fake))
            tokens += objective.batch_tokens(batch) * info.world_size
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
                window.add(d_out.stats, 1.0 / cfg.grad_accum)
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
        seconds += time.perf_counter() - t0
        done = step + 1
        window.add({"train_loss": g_loss, **row_d})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(g=f"{g_loss:.3f}", **({"d": f"{row_d['d_loss']:.3f}"} if row_d else {}), refresh=False)
        if done % cfg.log_every == 0 and info.is_main:
            log.info("step %d/%d g_loss %.4f%s lr %.3e grad_norm %.3f samples/s %.0f", done, cfg.steps, g_loss,
                     f" d_loss {row_d['d_loss']:.4f}" if row_d else "", lr, gnorm, tokens / max(seconds, 1e-9))
        if done % cfg.eval_every == 0 or done == cfg.steps:
            row = {"step": done, "lr": lr, **window.means(info, dev)}
            window = _Window()
            if val is not None and hasattr(objective, "val_step"):
                row |= evaluate(generator, objective, val, cfg.eval_batches, info)
                if info.is_main:
                    log.info("step %d: train loss %.4f, val loss %.4f", done, row["train_loss"], row["val_loss"])
            history.append(row)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            open_window = window.state(info, dev)
            if info.is_main:
                ckpt.save(out_dir, done, both, opts, scheds, fp, history=history, keep=cfg.keep_checkpoints,
                          extra={"tokens": tokens, "train_seconds": seconds, "window": open_window})
            barrier(info)
        for hook in hooks:
            hook(done, generator)
    if bar is not None:
        bar.close()
    last = next((h for h in reversed(history) if "val_loss" in h), {})
    return TrainResult(model=generator, history=history, val_loss=last.get("val_loss"),
                       val_metrics={k: v for k, v in last.items() if k.startswith("val_") and k != "val_loss"},
                       tokens=tokens, train_seconds=seconds, tokens_per_s=tokens / max(seconds, 1e-9),
                       resumed_from=start if start else None, fingerprint=fp)


@torch.no_grad()
def evaluate(generator: nn.Module, objective: Any, val: Any, max_batches: int | None, info: DistInfo) -> dict:
    """``val_loss`` and ``val_<stat>``: weighted means over every process's validation shard."""
    was = generator.training
    generator.eval()
    window = _Window()
    for batch in val.once(max_batches):
        out = objective.val_step(generator, objective.to(batch, info.device))
        w = float(out.weight)
        window.add({"val_loss": float(out.loss), **{f"val_{k}": v for k, v in out.stats.items()}}, w)
    generator.train(was)
    means = window.means(info, info.device)
    if "val_loss" not in means:
        raise ValueError("validation set is empty")
    return means


def _progress(cfg: AdversarialConfig, info: DistInfo, start: int):
    if not (cfg.progress and info.is_main):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=start, desc="train (adversarial)", unit="step", mininterval=2.0,
                dynamic_ncols=True)
