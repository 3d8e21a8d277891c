"""A tiny seeded CLaMP scorer checkpoint (upstream's .pth layout) for tests that need a real scorer."""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.clamp.model import ClampConfig, ClampModel

TINY = dict(
    patch_size=64,
    patch_length=64,
    hidden=64,
    layers=1,
    proj=48,
    text_vocab=72,
    text_positions=130,
    text_hidden=32,
    text_layers=1,
    text_intermediate=64,
)


def save_tiny_scorer(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    torch.save({"model": ClampModel(ClampConfig(**TINY)).state_dict(), "epoch": 1, "min_eval_loss": 1.0}, path)
    return path
