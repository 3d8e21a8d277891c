"""The MLX backend, behind one door: importing this module never needs mlx.

``load``/``embedding_encoder``/``generate`` forward to :mod:`pipeline.aria.mlx` (the port, which imports mlx at
its top); when mlx is missing they raise :class:`MLXUnavailableError`, an ImportError with
install instructions. Imports go this module -> the port, never back.
"""

from __future__ import annotations

import importlib.util


class MLXUnavailableError(ImportError):
    """mlx is not installed (Linux x86-64: ``pip install 'mlx[cpu]'``; Apple Silicon: ``pip install mlx``)."""


def mlx_available() -> bool:
    return importlib.util.find_spec("mlx") is not None


def port():
    """The :mod:`pipeline.aria.mlx` module (imported on first use: mlx is optional)."""
    try:
        from pipeline.aria import mlx  # late: mlx is optional (no cycle: the port never imports us)

        return mlx
    except ImportError as e:
        if not (e.name or "").startswith("mlx"):
            raise
        raise MLXUnavailableError(
            "the MLX backend needs mlx: `pip install 'mlx[cpu]'` on Linux x86-64, `pip install mlx` "
            "on Apple Silicon; or use the torch model (pipeline.aria.model)"
        ) from e


def load(path, **kwargs):
    """Load an Aria safetensors checkpoint into the MLX model; see ``pipeline.aria.mlx.load``."""
    return port().load(path, **kwargs)


def embedding_encoder(path, **kwargs):
    """An MLX embedding model (float32, as the torch path) behind the encoder protocol of
    ``pipeline.aria.encoders``; kwargs as ``pipeline.aria.mlx.load``."""
    m = port()
    return m.EmbEncoder(m.load(path, dtype=m.mx.float32, **kwargs))


def generate(model, prompts, **kwargs):
    """Generate with an MLX Aria model; same arguments as ``pipeline.sample.generate``."""
    return port().generate(model, prompts, **kwargs)


__all__ = ["MLXUnavailableError", "embedding_encoder", "generate", "load", "mlx_available", "port"]
