"""Params of the NotaGen family."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.params.base import Section
from pipeline.params.train import StageTrainParams


class AbcTokenizeParams(Section):
    """Interleaved ABC with NotaGen's %period / %composer / %instrumentation prompt lines."""

    patch_size: int = Field(16, ge=2)
    prompt: bool = True
    check: bool = True  # validate_interleaved every text; failures are quarantined
    from_midi: bool = False  # pieces without a score file: transcribe the MIDI with music21
    composer_names: dict[str, str] = {}  # index composer -> prompt name; default: title case
    instrumentation: dict[str, str] = {}  # index genre -> prompt label; default: from n_parts


# pipeline/notagen/model.py CONFIGS names, and the NotaGenConfig fields a user may override (patch_size
# is the patchilizer's 16); tests/unit/test_notagen_model.py keeps both equal to the model's
NotagenModelName = Literal["tiny", "small", "medium", "large"]
NotagenModelKey = Literal["hidden", "patch_layers", "char_layers", "patch_length", "dropout"]


class AbcPretrainParams(StageTrainParams):
    """The NotaGen patch model from scratch on the interleaved texts (no prompt lines); with
    ``init`` (a released NotaGen .pth under weights/abc_pretrain/) from it, at its shapes."""

    model: NotagenModelName = "tiny"
    model_overrides: dict[NotagenModelKey, int | float] = {}  # e.g. {hidden: 128, patch_layers: 3, patch_length: 128}
    transposition: Literal["none", "15keys"] = "15keys"  # upstream: one of 15 key signatures per item
    max_pieces: int | None = Field(None, ge=1)  # cap on training pieces (null = all)


class AbcFinetuneParams(StageTrainParams):
    """Fine-tune abc_pretrain (or ``init``: a released NotaGen .pth under weights/abc_finetune/) on
    period-composer-instrumentation prompted texts; samples for the report."""

    transposition: Literal["none", "shift3"] = "shift3"  # upstream: -3..+3 semitones, weights 1..4..1
    max_pieces: int | None = Field(None, ge=1)
    samples: int = Field(2, ge=0)  # pieces generated for the report (most frequent prompts first)
    top_k: int = Field(9, ge=1)
    top_p: float = Field(0.9, gt=0, le=1)
    sample_temperature: float = Field(1.2, gt=0)
    max_patches: int = Field(160, ge=1)  # per sample (upstream: 102400 chars, 20 min)
    max_seconds: float = Field(20.0, gt=0)  # per sample
