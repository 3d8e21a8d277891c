"""Shape and training switches of an Aria model (``ModelConfig``) and the sizes we build (``CONFIGS``,
read through ``ModelConfig.from_name(name, **overrides)``).

Kept apart from the torch modules so the checkpoint reader (:mod:`pipeline.aria.load`) can
build a config from a file's header without importing the model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pipeline.train.named_config import from_table


@dataclass(frozen=True)
class ModelConfig:
    d_model: int
    n_heads: int
    n_layers: int
    ff_mult: int = 4
    max_seq_len: int = 8192
    vocab_size: int = 17727
    emb_size: int | None = None  # set for the embedding model (TransformerEMB)
    rope_base: float = 500000.0
    dropout: float = 0.0
    grad_checkpoint: bool = False

    def __post_init__(self) -> None:
        for name in ("d_model", "n_heads", "n_layers", "ff_mult", "max_seq_len", "vocab_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head dim {self.head_dim} must be even for rotary embedding")
        if self.emb_size is not None and self.emb_size < 1:
            raise ValueError(f"emb_size must be >= 1 or None, got {self.emb_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {unknown} (known: {sorted(known)})")
        return cls(**d)

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_name(cls, name: str, **overrides) -> "ModelConfig":
        """``CONFIGS[name]`` with ``overrides``; unknown names and keys fail naming the allowed ones."""
        return from_table(CONFIGS, name, "Aria model", **overrides)


CONFIGS: dict[str, ModelConfig] = {
    # ours: tiny CPU default, ~4M trunk parameters (+2 x 4.5M embedding/head at the full vocab)
    "tiny": ModelConfig(d_model=256, n_heads=4, n_layers=4, max_seq_len=1024),
    # ours: a one-GPU step between tiny and medium (head dim 64 as upstream)
    "small": ModelConfig(d_model=512, n_heads=8, n_layers=8, max_seq_len=2048),
    # upstream: the released aria-medium shape (EleutherAI aria, ~660M parameters)
    "medium": ModelConfig(d_model=1536, n_heads=24, n_layers=16, max_seq_len=8192),
}
