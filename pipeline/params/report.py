"""Params of the report stage."""

from __future__ import annotations

from pydantic import Field

from pipeline.params.base import Section


class ReportParams(Section):
    """The static HTML site over every reports/<stage>/ (stages/report.py)."""

    title: str = "ostinato report"
    max_samples: int = Field(8, ge=0)  # generated samples shown per report folder
    max_table_rows: int = Field(60, ge=1)
