"""Params of the Generality-to-Mastery family."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.params.base import Section


class TokenizeRemiParams(Section):
    """GnM-style REMI (pipeline/gnm/remi.py); composers not listed get Composer_None."""

    beat_res: dict[str, int] = {"0_4": 8, "4_12": 4}
    num_velocities: int = Field(1, ge=1, le=127)
    use_time_signatures: bool = True
    use_tempos: bool = False
    pitch_range: tuple[int, int] = (21, 109)  # high end excluded
    composers: list[str] = []
    use_bos: bool = True
    out_of_range: Literal["reject", "drop_notes"] = "reject"
