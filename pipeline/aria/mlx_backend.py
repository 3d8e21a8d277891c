"""MLX ports of our torch models. MLX is imported lazily: importing this package never needs it.

``load``/``generate`` forward to :mod:`pipeline.aria.mlx`, which raises
:class:`MLXUnavailableError` (an ImportError with install instructions) when mlx is missing.
"""

from __future__ import annotations

import importlib.util


class MLXUnavailableError(ImportError):
    """mlx is not installed (Linux x86-64: ``pip install 'mlx[cpu]'``; Apple Silicon: ``pip install mlx``)."""


def mlx_available() -> bool:
    return importlib.util.find_spec("mlx") is not None


def load(path, **kwargs):
    """Load an Aria safetensors checkpoint into the MLX model; see ``pipeline.aria.mlx.load``."""
    from pipeline.aria import mlx as aria

    return aria.load(path, **kwargs)


def generate(model, prompts, **kwargs):
    """Generate with an MLX Aria model; same arguments as ``pipeline.sample.generate``."""
    from pipeline.aria import mlx as aria

    return aria.generate(model, prompts, **kwargs)


__all__ = ["MLXUnavailableError", "generate", "load", "mlx_available"]
