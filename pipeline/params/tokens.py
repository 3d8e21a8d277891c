"""Params of the tokenize_* and pack stages."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.config import Section


class AriaTokenizerConfig(Section):
    """AbsTokenizer config (pipeline/tokenizers/aria.py); any change changes the vocabulary."""

    time_step_ms: int = Field(10, ge=1)
    abs_time_step_ms: int = Field(5000, ge=1)
    max_dur_ms: int = Field(5000, ge=1)
    velocity_step: int = Field(10, ge=1, le=127)
    include_drums: bool = True
    include_pedal: bool = False
    include_delimiter: bool = False


class TokenizeAriaParams(Section):
    config: AriaTokenizerConfig = AriaTokenizerConfig()
    prefix_metadata: list[Literal["composer", "form", "genre"]] = ["composer"]  # index fields -> prefix tokens


class TokenizeRemiParams(Section):
    """GnM-style REMI (pipeline/tokenizers/remi.py); composers not listed get Composer_None."""

    beat_res: dict[str, int] = {"0_4": 8, "4_12": 4}
    num_velocities: int = Field(1, ge=1, le=127)
    use_time_signatures: bool = True
    use_tempos: bool = False
    pitch_range: tuple[int, int] = (21, 109)  # high end excluded
    composers: list[str] = []
    use_bos: bool = True
    out_of_range: Literal["reject", "drop_notes"] = "reject"


class TokenizeAbcParams(Section):
    """Interleaved ABC with NotaGen's %period / %composer / %instrumentation prompt lines."""

    patch_size: int = Field(16, ge=2)
    prompt: bool = True
    check: bool = True  # validate_interleaved every text; failures are quarantined
    from_midi: bool = False  # pieces without a score file: transcribe the MIDI with music21
    composer_names: dict[str, str] = {}  # index composer -> prompt name; default: title case
    instrumentation: dict[str, str] = {}  # index genre -> prompt label; default: from n_parts


class PackParams(Section):
    tokenizer: Literal["aria"] = "aria"
    seq_len: int = Field(1024, ge=2)
    mode: Literal["concat", "separate"] = "concat"
