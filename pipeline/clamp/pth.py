"""The writer of upstream's ``.pth`` layout (``model`` + ``epoch`` / ``best_epoch`` / ``min_eval_loss``),
which ``pipeline.clamp.load`` and upstream's extraction script both read: for trained and imported scorers."""

from __future__ import annotations

from pathlib import Path

import torch


def save_pth(model: torch.nn.Module, path: Path, steps: int, val_loss: float | None) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": state,
            "epoch": steps,
            "best_epoch": steps,
            "min_eval_loss": float(val_loss) if val_loss is not None else float("nan"),
        },
        tmp,
    )
    tmp.replace(path)
