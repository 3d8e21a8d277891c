"""Tiny CLaMP 2 weights both upstream's model (tests/unit/data/clamp_mtf_make.py) and ours load.

Nothing binary is committed: every tensor of the state dict is filled from one seeded numpy
generator in sorted key order, so the key list and shapes in clamp_mtf.json rebuild it exactly.
"""

from __future__ import annotations

import numpy as np
import torch

TINY = dict(
    patch_size=64,
    patch_length=16,  # short windows: the longer pieces get several, the last overlapping
    hidden=64,
    layers=1,
    proj=48,
    text_vocab=72,
    text_positions=130,
    text_hidden=32,
    text_layers=1,
    text_intermediate=64,
)


def fill(keys: list[tuple[str, list[int]]], seed: int = 0) -> dict[str, torch.Tensor]:
    """N(0, 0.02) for every tensor, LayerNorm weights 1 + N(0, 0.1) (so layers stay alive)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in sorted(keys):
        x = rng.standard_normal(shape)
        x = 1.0 + 0.1 * x if name.endswith("LayerNorm.weight") else 0.02 * x
        out[name] = torch.from_numpy(x.astype(np.float32))
    return out
