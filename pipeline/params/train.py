"""The fields every training section shares (one run of pipeline/train/loop.py).

A family's training section subclasses :class:`TrainParams` and adds its model and data keys;
``TrainJob.train_config()`` (pipeline/train/job.py) turns it into the loop's ``TrainConfig``.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from pipeline.params.base import Section


def warmup_within_steps(cls, v: int, info) -> int:
    """Warm-up longer than the run is a params mistake (``steps: 0`` trains nothing: no warm-up to check)."""
    steps = info.data.get("steps")
    if steps and v > steps:
        raise ValueError(f"warmup_steps ({v}) must be <= steps ({steps})")
    return v


class TrainParams(Section):
    steps: int = Field(300, ge=1)
    batch_size: int = Field(8, ge=1)  # items per process per micro-batch
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(3e-4, gt=0)
    warmup_steps: int = Field(200, ge=0)
    final_lr_frac: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW; a family with its own upstream optimiser overrides both
    eps: float = Field(1e-5, gt=0)
    grad_clip: float = Field(1.0, ge=0)  # 0 = no clipping
    eval_every: int = Field(50, ge=1)
    eval_batches: int | None = Field(None, ge=1)  # cap per validation pass; null = whole val split
    checkpoint_every: int = Field(50, ge=1)
    compile: bool = False  # torch.compile, CUDA only
    bf16: bool = True  # autocast, CUDA only

    _warmup = field_validator("warmup_steps")(warmup_within_steps)


class InitParams(Section):
    """``init`` (released weights to start from, under ``weights/<stage>/``;
    pipeline/train/released.py) and ``steps: 0`` to import ``init`` as the stage's model without
    training. Listed first among a section's bases, so that its ``steps`` wins."""

    steps: int = Field(300, ge=0)  # 0: import init unchanged
    init: str | None = None  # repo-relative checkpoint in its upstream format, or one of our model dirs

    @model_validator(mode="after")
    def _import_needs_init(self):
        if self.steps == 0 and not self.init:
            raise ValueError("steps: 0 imports `init` without training, but init is not set")
        return self


class StageTrainParams(InitParams, TrainParams):
    """A training stage's section: the shared training fields plus ``init``."""
