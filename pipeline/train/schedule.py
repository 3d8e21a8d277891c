"""Learning-rate schedule: linear warm-up, then linear decay to ``final_frac`` of the peak.

Aria's (upstream ``train.py``): warm-up from 1e-6 x peak over ``warmup_steps``, then linear decay
to 10% of peak at the last step. ``lr_factor(step)`` is the multiplier of the peak at optimizer
step ``step`` (0-based), usable as a ``LambdaLR`` lambda, so the scheduler state is one integer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

WARMUP_START = 1e-6


@dataclass(frozen=True)
class WarmupLinearDecay:
    warmup_steps: int
    total_steps: int
    final_frac: float = 0.1
    start_frac: float = WARMUP_START

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {self.total_steps}")
        if not 0 <= self.warmup_steps <= self.total_steps:
            raise ValueError(f"warmup_steps must be in [0, total_steps={self.total_steps}], got {self.warmup_steps}")
        if not 0.0 <= self.final_frac <= 1.0:
            raise ValueError(f"final_frac must be in [0, 1], got {self.final_frac}")

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.start_frac + (1.0 - self.start_frac) * step / self.warmup_steps
        decay_steps = self.total_steps - self.warmup_steps
        if decay_steps <= 0:
            return 1.0
        done = min(step - self.warmup_steps, decay_steps) / decay_steps
        return 1.0 - (1.0 - self.final_frac) * done


def lr_at(step: int, peak: float, warmup_steps: int, total_steps: int, final_frac: float = 0.1) -> float:
    """The learning rate at optimizer step ``step``: ``peak * factor(step)``."""
    return peak * WarmupLinearDecay(warmup_steps, total_steps, final_frac)(step)


def make_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, final_frac: float = 0.1
) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR over ``WarmupLinearDecay``; its state_dict holds only numbers (weights_only-safe).

    The factor reaches ``final_frac`` at step ``total_steps - 1`` (the last optimizer step).
    """
    last = max(total_steps - 1, 1)
    fn = WarmupLinearDecay(min(warmup_steps, last), last, final_frac)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: fn(step))  # a function: not saved
