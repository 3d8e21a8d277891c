"""Params of the pack stage (flat token stores -> fixed-length training rows)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.params.base import Section


class PackParams(Section):
    tokenizers: list[str] = Field(["aria"], min_length=1)  # data/tokens/<name> -> data/pack/<name>/
    seq_len: int = Field(1024, ge=2)
    mode: Literal["concat", "separate"] = "concat"
