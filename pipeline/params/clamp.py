"""Params of the CLaMP scorer and the CLaMP-DPO loop (NotaGen family): clamp_train, abc_dpo,
abc_score_table."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from pipeline.params.base import Section
from pipeline.params.train import StageTrainParams, TrainParams


class ClampTrainParams(StageTrainParams):
    """M3 masked-patch pretraining (``m3_steps``) then CLaMP alignment (``steps``); shapes are
    tiny by default (upstream M3: 768 x 12, patch 64, 512 patches; CLaMP 2 feature 768). ``init``:
    a released CLaMP 2 / M3 .pth under weights/clamp_train/ fixes the shapes (pipeline/clamp/released.py)."""

    patch_size: int = Field(64, ge=4)  # characters per M3 patch
    patch_length: int = Field(128, ge=4)  # patches per segment
    hidden: int = Field(128, ge=64, multiple_of=64)  # head_dim 64, as upstream
    layers: int = Field(2, ge=1)
    decoder_layers: int = Field(1, ge=1)  # M3's char decoder for masked patches
    proj: int = Field(128, ge=8)  # CLaMP feature size
    text_hidden: int = Field(64, ge=16)
    text_layers: int = Field(1, ge=1)
    text_len: int = Field(128, ge=8)  # text tokens (characters) per piece
    temperature: float = Field(0.1, gt=0)
    text_dropout: float = Field(0.2, ge=0, lt=1)  # drop each metadata line (upstream augmentation)
    mask_ratio: float = Field(0.45, gt=0, le=1)
    m3_steps: int = Field(150, ge=1)
    m3_lr: float = Field(1e-3, gt=0)


class AbcDpoParams(TrainParams):
    """K CLaMP-DPO iterations; ``steps``/``lr``/``batch_size`` are per iteration's DPO run
    (upstream: 10000 steps, lr 1e-6, batch 1 pair)."""

    iterations: int = Field(2, ge=1)  # K (upstream 3)
    prompts: int = Field(2, ge=1)  # most frequent (period, composer, instrumentation) triples
    prompt_list: list[tuple[str, str, str]] | None = None  # explicit triples instead (must occur in the data)
    samples_per_prompt: int = Field(8, ge=2)
    top_k: int = Field(9, ge=1)
    top_p: float = Field(0.9, gt=0, le=1)
    sample_temperature: float = Field(1.2, gt=0)
    max_chars: int = Field(3000, ge=16)  # per piece (upstream 102400)
    max_seconds: float = Field(20.0, gt=0)  # per piece (upstream 1200)
    portion: float = Field(0.1, gt=0, le=0.5)  # top / bottom share (upstream data_select_portion)
    plagiarism: float = Field(0.95, gt=0, le=1)  # max cosine to any training piece for chosen
    beta: float = Field(0.1, gt=0)
    lam: float = Field(10.0, ge=0)  # DPO-Positive lambda
    reference_pieces: int | None = Field(None, ge=2)  # cap on fine-tune pieces scored against
    on_empty: Literal["stop", "keep_policy"] = "stop"  # empty preference set: fail, or carry the policy

    # What a round's samples depend on; every other key but ``iterations`` is its DPO run's, so a new
    # lr rebuilds the DPO models but keeps the samples of round 0 (pipeline/clamp/dpo_rounds.py)
    SAMPLING: ClassVar[frozenset[str]] = frozenset(
        {
            "prompts",
            "prompt_list",
            "samples_per_prompt",
            "top_k",
            "top_p",
            "sample_temperature",
            "max_chars",
            "max_seconds",
            "reference_pieces",
        }
    )


class AbcScoreTableParams(Section):
    probe_c: float = Field(1.0, gt=0)  # logistic-regression C of the label probes
    perplexity_split: Literal["val", "test"] = "test"
    perplexity_pieces: int = Field(16, ge=1)
    render_per_k: int = Field(1, ge=0)  # samples rendered to MusicXML / MIDI / audio per K
    sample_rate: int = Field(16000, ge=8000)
    audio_seconds: float = Field(20.0, gt=0)
