"""Params of the Generality-to-Mastery family (pipeline/gnm/, stages/gnm_*.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.params.base import Section
from pipeline.params.data import AcousticCondition
from pipeline.params.train import InitParams, StageTrainParams, TrainParams


class TokenizeRemiParams(Section):
    """miditok REMI options (pipeline/gnm/remi.py), used when ``gnm_tokenize.tokenizer: miditok``."""

    beat_res: dict[str, int] = {"0_4": 8, "4_12": 4}
    num_velocities: int = Field(1, ge=1, le=127)
    use_time_signatures: bool = True
    use_tempos: bool = False
    pitch_range: tuple[int, int] = (21, 109)  # high end excluded
    composers: list[str] = []
    use_bos: bool = True
    out_of_range: Literal["reject", "drop_notes"] = "reject"


class GnmTokenizeParams(Section):
    """GnM events (pipeline/gnm/encode.py) + the vocabulary artifact; or miditok REMI."""

    tokenizer: Literal["gnm", "miditok"] = "gnm"
    composers: list[str] = ["bach", "mozart", "beethoven", "haydn"]  # the mastery composers
    category: Literal["collection", "genre", "period", "composer"] = "collection"  # pretraining classes
    pickup: Literal["upstream", "fixed"] = "upstream"  # upstream = its first-bar bug, ids as released
    val_fraction: float = Field(0.2, ge=0, lt=1)  # per category, at least one piece when it has >= 2
    miditok: TokenizeRemiParams = TokenizeRemiParams()
    # a released dictionary.pkl (or vocab.json) under weights/gnm_tokenize/ as the vocabulary (for
    # upstream's weights as gnm_*.init); pieces with events outside it are quarantined, named
    vocab: str | None = None


class GnmModelParams(Section):
    """Decoder shape; upstream: 12 x 512, 8 heads, d_ff 2048, adapters after [1, 3, 5, 7, 9]."""

    d_model: int = Field(128, ge=8)
    n_heads: int = Field(4, ge=1)
    n_layers: int = Field(4, ge=1)
    d_ff: int = Field(512, ge=8)
    d_word_embed: int = Field(128, ge=8)
    dropout: float = Field(0.1, ge=0, lt=1)
    adapter_positions: list[int] = [1, 3]


class GnmTrainParams(TrainParams):
    """One LM run (upstream Adam: betas 0.9/0.999, no weight decay)."""

    seq_len: int = Field(512, ge=16)  # upstream tgt_len 2400
    augment: bool = True  # pitch shift in -3..+3 within 21..108
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)  # upstream's Adam
    eps: float = Field(1e-8, gt=0)
    grad_clip: float = Field(0.5, ge=0)


class GnmPretrainParams(InitParams, GnmTrainParams):
    """``init``: upstream's generality .pt under weights/gnm_pretrain/ (its shape wins over model)."""

    model: GnmModelParams = GnmModelParams()


class GnmFinetuneParams(InitParams, GnmTrainParams):
    """``init``: a released GnM .pt under weights/gnm_finetune/ instead of models/gnm_pretrain."""

    adapter_grad_clip: float = Field(2.5, ge=0)  # upstream: 2.5 over adapters, 0.5 over the rest


class GnmScratchParams(GnmTrainParams):
    """The baseline: the generality architecture (no adapters) trained on the composer data only."""


class GnmClassifierParams(StageTrainParams):
    """``init``: upstream's style classifier .pt under weights/gnm_classifier/ (its shape wins; classes
    in gnm_tokenize.composers order); with steps: 0 the classifier gnm_eval scores with."""

    d_model: int = Field(128, ge=8)
    n_heads: int = Field(4, ge=1)
    n_layers: int = Field(2, ge=1)  # upstream 6 x 512
    d_ff: int = Field(512, ge=8)
    dropout: float = Field(0.1, ge=0, lt=1)
    seq_len: int = Field(512, ge=16)
    augment: bool = True
    weight_decay: float = Field(1e-4, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)  # upstream's Adam
    eps: float = Field(1e-8, gt=0)
    eval_windows: int = Field(4, ge=1)  # random windows per held-out piece (+ the one from bar 0)


class GnmGenerateParams(Section):
    pieces: int = Field(4, ge=1)  # per composer per model
    temperature: float = Field(1.1, gt=0)
    top_p: float = Field(0.99, gt=0, le=1)
    max_bars: int = Field(32, ge=1)  # upstream 128
    max_events: int = Field(600, ge=8)  # upstream 1200
    max_fails: int = Field(256, ge=1)  # the beat guard's give-up bound (upstream 256 rejections)
    models: list[Literal["generality", "mastery", "scratch"]] = ["generality", "mastery", "scratch"]
    sample_rate: int = Field(16000, ge=8000)
    max_seconds: float = Field(30.0, gt=0)
    audio: AcousticCondition = AcousticCondition(soundfont="default", gain=0.5, reverb=0.0, chorus=False)


class GnmEvalParams(Section):
    windows: int = Field(4, ge=1)  # classifier windows per generated piece (majority vote)
    samples_per_composer: int = Field(2, ge=0)  # playable samples per composer in headline.json
