"""Params of the VALL-E half of the MIDI-VALLE family (pipeline/valle/, stages/valle_*.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.params.base import Section
from pipeline.params.train import StageTrainParams

# the ValleConfig fields a user may override (n_quantizers and audio_bins come from the codec)
ValleModelKey = Literal["d_model", "nhead", "n_layers", "dropout", "attn_dropout"]


class ValleTrainParams(StageTrainParams):
    """VALL-E on (MIDI tokens, codec codes) pairs from ``data/codec_tokenize``; ``init``: a VALL-E
    checkpoint (ours or MIDI-VALLE's .pt) under weights/valle_train/ to start from or import."""

    model: Literal["tiny", "midi-valle"] = "tiny"  # midi-valle = the released 12 x 1024, 16 heads
    model_overrides: dict[ValleModelKey, int | float] = {}
    train_stage: Literal[0, 1, 2] = 0  # 0: AR + NAR together, 1: AR only, 2: NAR only
    max_frames: int = Field(1000, ge=8)  # longer items are cut (20 s at 50 frames/s)
    max_tail_s: float = Field(4.0, ge=0)  # audio may outlast the last MIDI note by this much


class ValleSynthesizeParams(Section):
    """Held-out MIDI segments + a prompt from another piece in the other condition -> audio."""

    recordings: int = Field(2, ge=1)  # test recordings synthesised (all their segments)
    max_segments: int = Field(8, ge=1)  # cap over all recordings
    prompt_seconds: float = Field(3.0, gt=0)
    min_prompt_seconds: float = Field(1.0, gt=0)
    temperature: float = Field(1.0, ge=0)
    top_k: int | None = Field(None, ge=1)  # upstream's default -100 = off
    max_length_factor: float = Field(1.25, gt=0)  # AR cap: segment frames x this (upstream: 16 x rows)
    min_length_factor: float = Field(0.8, ge=0)  # EOS banned before segment frames x this (upstream: 0)
    crossfade_s: float = Field(0.05, ge=0)  # when stitching segments back into pieces


class ValleEvalParams(Section):
    """The MIDI-VALLE table: FAD (codec latents + log-mel), FAD-inf, chroma, spectrogram distance."""

    n_boot: int = Field(200, ge=10)
    fad_inf_steps: int = Field(25, ge=3)
    fad_inf_min_n: int = Field(500, ge=10)
    samples: int = Field(2, ge=1)  # side-by-side audio players in the report
    embedding: Literal["logmel"] = "logmel"  # the codec-independent FAD embedding
    # the codec table's other rows: {label: released codec under weights/valle_eval/ (our codec dir,
    # a transformers EncodecModel dir, an audiocraft export) at the segments' sample rate}
    baseline_codecs: dict[str, str] = {}
