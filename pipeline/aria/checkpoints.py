"""Opening a checkpoint for a job: the right head, this tokenizer's vocabulary, then the model.

Every check reads only the safetensors header, so a wrong file fails in milliseconds with a
CheckpointError that names it (not a SafetensorError or a shape error deep in the model).
"""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.aria import mlx_backend
from pipeline.aria.load import EMB_HEAD, LM_HEAD, CheckpointError, read_header, resolve_checkpoint
from pipeline.aria.model import load
from pipeline.aria.tokenizer import AbsTokenizer


def checked_path(checkpoint: str | Path, tok: AbsTokenizer, head: str | None = None) -> Path:
    """The checkpoint file after the head and tokenizer checks (head: "lm", "emb" or None)."""
    path = resolve_checkpoint(checkpoint)
    shapes, meta = read_header(path)
    if head == "emb" and EMB_HEAD not in shapes:
        kind = "a language model (lm_head.weight)" if LM_HEAD in shapes else "not an Aria embedding model"
        raise CheckpointError(
            f"checkpoint {path} has no {EMB_HEAD}: it is {kind}; embeddings need a "
            f"contrastive checkpoint (e.g. models/aria_contrastive)"
        )
    if head == "lm" and LM_HEAD not in shapes:
        raise CheckpointError(f"checkpoint {path} has no {LM_HEAD}: expected a pretrained LM")
    have = meta.get("tokenizer_hash")
    if have and have != tok.config_hash():
        raise CheckpointError(
            f"checkpoint {path} was trained with tokenizer {have}, this tokenizer is "
            f"{tok.config_hash()} (vocab {tok.vocab_size}): different vocabularies"
        )
    return path


def load_checked(
    checkpoint: str | Path, tok: AbsTokenizer, head: str | None = None, device: str | torch.device = "cpu"
):
    """Load strictly (float32, eval); wrong head, vocabulary or tokenizer hash is a CheckpointError."""
    path = checked_path(checkpoint, tok, head)
    return load(path, expected_vocab_size=tok.vocab_size, device=device, dtype=torch.float32)


def load_model(checkpoint: str | Path, tok: AbsTokenizer, backend: str = "torch", device: torch.device | str = "cpu"):
    """A model to continue prompts with, on the torch or the MLX backend (checked as above)."""
    if backend == "torch":
        return load_checked(checkpoint, tok, device=device)
    if backend == "mlx":
        path = checked_path(checkpoint, tok)
        try:
            return mlx_backend.load(path, expected_vocab_size=tok.vocab_size)
        except ImportError as e:
            raise RuntimeError(str(e)) from None
    raise ValueError(f"backend must be 'torch' or 'mlx', got {backend!r}")
