"""Params model of the ``sheet`` ingest source (a folder of MusicXML / ABC), to be moved into
``pipeline/params/data.py`` and added to ``IngestParams.sources`` by the params owner."""

from __future__ import annotations

from typing import Literal

from pipeline.params.base import Section


class SheetSource(Section):
    """``kind: sheet``: .xml/.mxl/.musicxml/.abc files under ``path``. Labels come from ``metadata``
    (JSONL/CSV: a path column + period/composer/instrumentation/genre/split columns) and, for files
    three or more folders deep, from the folder names ``<period>/<composer>/<instrumentation>/``
    (NotaGen's fine-tuning layout); a metadata row wins over folder names."""

    kind: Literal["sheet"] = "sheet"
    path: str
    metadata: str | None = None
    folder_labels: bool = True
    name: str = "sheet"
