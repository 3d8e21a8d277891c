"""Params of the NotaGen family."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.params.base import Section


class TokenizeAbcParams(Section):
    """Interleaved ABC with NotaGen's %period / %composer / %instrumentation prompt lines."""

    patch_size: int = Field(16, ge=2)
    prompt: bool = True
    check: bool = True  # validate_interleaved every text; failures are quarantined
    from_midi: bool = False  # pieces without a score file: transcribe the MIDI with music21
    composer_names: dict[str, str] = {}  # index composer -> prompt name; default: title case
    instrumentation: dict[str, str] = {}  # index genre -> prompt label; default: from n_parts
