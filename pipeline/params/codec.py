"""Params of the codec half of the MIDI-VALLE family (pipeline/codec/, stages/codec_*.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.params.base import Section
from pipeline.params.train import StageTrainParams


class CodecLossWeights(Section):
    """audiocraft's EnCodec recipe: l1 0.1, multi-scale mel 2, commitment 1, adversarial 3, features 3."""

    l1: float = Field(0.1, ge=0)
    mel: float = Field(2.0, ge=0)
    commit: float = Field(1.0, ge=0)
    adv: float = Field(3.0, ge=0)
    feat: float = Field(3.0, ge=0)


class CodecModelParams(Section):
    """A named preset plus overrides (null = the preset's value)."""

    preset: Literal["tiny", "encodec_32khz"] = "tiny"
    n_filters: int | None = Field(None, ge=1)
    dimension: int | None = Field(None, ge=1)
    n_q: int | None = Field(None, ge=1)
    bins: int | None = Field(None, ge=2)
    kmeans_iters: int | None = Field(None, ge=1)
    threshold_ema_dead_code: float | None = Field(None, ge=0)  # codes with a smaller EMA count are reset


class CodecTrainParams(StageTrainParams):
    """Adversarial codec training (pipeline/train/adversarial.py) on segment audio."""

    @model_validator(mode="before")
    @classmethod
    def _old_init_from(cls, data):
        """``init_from`` is the old name of ``init``: still read."""
        if isinstance(data, dict) and "init_from" in data:
            if data.get("init") is not None:
                raise ValueError("init_from is the old name of init: set only init")
            data = {k: v for k, v in data.items() if k != "init_from"} | {"init": data["init_from"]}
        return data

    model: CodecModelParams = CodecModelParams()
    # init (StageTrainParams): a codec under weights/codec_train/ to fine-tune or, with steps: 0, import:
    # ours, a transformers EncodecModel dir, an audiocraft .bin; its config wins over model
    conditions: list[str] | None = None  # acoustic conditions to train on (null = every segment)
    max_segments: int | None = Field(None, ge=1)  # cap on training segments loaded (spread over the list)
    val_segments: int = Field(8, ge=0)
    crop_s: float = Field(1.0, gt=0)
    disc_lr: float = Field(3e-4, gt=0)
    adv_start: int = Field(0, ge=0)  # reconstruction-only steps before the adversarial terms
    vq_warmup: int = Field(0, ge=0)  # unquantized (autoencoder) steps, then k-means init of the codebooks
    kmeans_crops: int = Field(64, ge=1)  # crops whose latents the k-means init clusters (>> bins frames)
    adv_loss: Literal["mse", "hinge"] = "mse"
    weights: CodecLossWeights = CodecLossWeights()
    disc_filters: int = Field(8, ge=1)
    disc_n_ffts: list[int] = [512, 1024, 256]
    mel_n_ffts: list[int] = [256, 512, 1024]
    n_mels: int = Field(64, ge=8)
    # log-mel floor this many dB below each crop's peak; null = 1e-5 (audiocraft)
    mel_floor_db: float | None = Field(None, gt=0)
    mel_log_loss: Literal["l2", "l1"] = "l2"  # distance on log-mel (audiocraft: l2)
    mel_after_warmup: bool = False  # mel term off during the unquantized vq_warmup steps
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.5, 0.9)  # audiocraft's EnCodec optimizers
    eps: float = Field(1e-8, gt=0)
    warmup_steps: int = Field(0, ge=0)
    final_lr_frac: float = Field(1.0, ge=0, le=1)
    samples: int = Field(2, ge=0)  # reconstruction examples in the report


class CodecTokenizeParams(Section):
    """Segments -> codec codes [n_q, frames] + MIDI-VALLE compound tokens, with quarantine."""

    conditions: list[str] | None = None  # null = every segment
    silence_rms_db: float = -60.0  # quieter audio is quarantined as silent
    max_clipped_fraction: float = Field(0.01, ge=0, le=1)  # samples at |x| >= 0.999
    max_length_mismatch_s: float = Field(1.0, ge=0)  # MIDI notes beyond the audio's end
