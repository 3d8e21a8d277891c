"""``clamp_train.init``: a released CLaMP 2 / M3 ``.pth`` (or our ``clamp.pth`` / model dir) as the start.

The checkpoint fixes the music tower's shapes (patch size, patches per segment, width, depth,
feature size), read from its tensors by the strict loader (pipeline/clamp/scorer.py); the section's
shape keys are then ignored. ``steps: 0`` (:func:`import_init`) writes it as ``clamp.pth`` in our
layout, which abc_dpo and abc_score_table score with unchanged. Training from it
(:func:`start_models`): an M3 checkpoint starts the M3 phase; a CLaMP checkpoint skips that phase
and continues the alignment, which needs our character text tower (released CLaMP 2 has XLM-R's).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.clamp.model import ClampConfig, ClampModel, M3Model
from pipeline.clamp.pth import save_pth
from pipeline.clamp.scorer import build, read_state
from pipeline.clamp.text import VOCAB_SIZE
from pipeline.data.jsonl import write_json
from pipeline.train.job import TrainJob

SCORER = "clamp.pth"  # what abc_dpo and abc_score_table read from models/clamp_train


def checkpoint_file(init: str | Path) -> Path:
    """The .pth behind ``init``: the file itself, or ``clamp.pth`` in one of our model dirs."""
    init = Path(init)
    return init / SCORER if init.is_dir() else init


def load_init(init: str | Path) -> tuple[str, ClampModel | M3Model, dict]:
    """(kind "clamp" | "m3", the model loaded strictly at the checkpoint's own shapes, its metadata)."""
    path = checkpoint_file(init)
    state, meta = read_state(path)
    kind, model = build(state)
    return kind, model, {k: meta.get(k) for k in ("epoch", "min_eval_loss")}


def import_init(job: TrainJob) -> dict:
    """``steps: 0``: the checkpoint as ``clamp.pth`` (model + epoch + min_eval_loss, optimizer
    dropped) and config.json; an M3 checkpoint scores with its pooled encoder states."""
    path = checkpoint_file(job.inputs["init"])
    kind, model, meta = load_init(path)
    model_dir = Path(job.model_dir)
    save_pth(model, model_dir / SCORER, meta["epoch"] or 0, meta["min_eval_loss"])
    write_json(model_dir / "config.json", {"model": model.cfg.to_dict(), "kind": kind, "imported": path.name})
    return {"kind": kind, "parameters": sum(t.numel() for t in model.parameters()), "source": meta}


def start_models(job: TrainJob, cfg: ClampConfig) -> tuple[ClampConfig, M3Model | None, ClampModel | None]:
    """(the config to train at, an M3 model to start phase 1 from, a CLaMP model to start phase 2
    from); both None without ``init``. ``cfg`` is the section's config: an M3 start keeps its text
    tower and feature size and takes every music shape from the checkpoint."""
    if not job.inputs.get("init"):
        return cfg, None, None
    path = checkpoint_file(job.inputs["init"])
    kind, model, _ = load_init(path)
    own = model.cfg
    if kind == "m3":
        music = {k: getattr(own, k) for k in ("patch_size", "patch_length", "hidden", "layers", "intermediate")}
        return ClampConfig(**{**cfg.to_dict(), **music, "decoder_layers": own.decoder_layers}), model, None
    if own.text_vocab != VOCAB_SIZE:
        raise ValueError(
            f"clamp_train.init: {path} has a text tower of {own.text_vocab} tokens, clamp_train's character "
            f"vocabulary has {VOCAB_SIZE}: fine-tuning cannot fit it (steps: 0 imports it as the scorer)"
        )
    return own, None, model
