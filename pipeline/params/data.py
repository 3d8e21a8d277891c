"""Params of the data stages: ingest, render_audio, segment."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator

from pipeline.params.base import Section


class CorpusCollection(Section):
    """One slice of music21's bundled corpus, e.g. the Bach chorales."""

    composer: str
    period: str
    genre: str
    paths: list[str]  # glob patterns relative to music21's corpus dir
    cap: int = Field(ge=0)


class Music21Source(Section):
    kind: Literal["music21"] = "music21"
    collections: dict[str, CorpusCollection]


class MidiDirSource(Section):
    kind: Literal["midi_dir"] = "midi_dir"
    path: str
    metadata: str | None = None  # CSV/JSONL (path + labels), MAESTRO/ATEPP CSV or Aria metadata.json
    metadata_format: Literal["auto", "table", "maestro", "atepp", "aria_eval"] = "auto"
    name: str = "user"


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


def source_kind(v) -> str | None:
    """The ``kind`` that picks a source's model, so a bad source gets one model's errors, not three;
    an entry without ``kind`` is music21 when it lists collections, else a MIDI folder."""
    if isinstance(v, dict):
        return v.get("kind") or ("music21" if "collections" in v else "midi_dir")
    return getattr(v, "kind", None)


Source = Annotated[
    Union[
        Annotated[Music21Source, Tag("music21")],
        Annotated[MidiDirSource, Tag("midi_dir")],
        Annotated[SheetSource, Tag("sheet")],
    ],
    Discriminator(source_kind),
]


class IngestLimits(Section):
    min_notes: int = Field(8, ge=1)
    max_notes: int = Field(200_000, ge=1)
    max_duration_s: float = Field(3600.0, gt=0)
    min_duration_s: float = Field(1.0, ge=0)
    max_tempo_events: int = Field(5_000, ge=1)
    min_bpm: float = Field(10.0, gt=0)
    max_bpm: float = Field(1_000.0, gt=0)
    max_file_mb: float = Field(20.0, gt=0)


class SplitParams(Section):
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)


class IngestParams(Section):
    sources: list[Source] = Field(min_length=1)
    limits: IngestLimits = IngestLimits()
    split: SplitParams = SplitParams()

    @field_validator("split")
    @classmethod
    def _split_sums(cls, v: SplitParams) -> SplitParams:
        if v.val + v.test >= 1:
            raise ValueError("split.val + split.test must be < 1")
        return v


class AcousticCondition(Section):
    """A named recording condition: soundfont x reverb/chorus x gain."""

    soundfont: str = "default"  # "default" = the TimGM6mb.sf2 pretty_midi ships
    gain: float = Field(0.4, gt=0, le=5)
    reverb: float = Field(0.0, ge=0, le=1)  # wet level; 0 turns reverb off
    room_size: float = Field(0.2, ge=0, le=1)
    chorus: bool = False
    program: int | None = Field(None, ge=0, le=127)  # play every part (drums too) on this GM program; 0 = piano


class RenderAudioParams(Section):
    sample_rate: int = Field(16_000, ge=8_000, le=96_000)
    conditions: dict[str, AcousticCondition] = Field(min_length=1)
    max_seconds: float = Field(60.0, gt=0)
    max_pieces: int | None = Field(None, ge=1)
    real_recordings: str | None = None  # manifest (JSONL/CSV) of real audio paired with MIDI


class SegmentParams(Section):
    min_s: float = Field(15.0, gt=0)
    max_s: float = Field(20.0, gt=0)
    drop_under_s: float = Field(3.0, ge=0)

    @field_validator("max_s")
    @classmethod
    def _range(cls, v: float, info) -> float:
        lo = info.data.get("min_s")
        if lo is not None and v < lo:
            raise ValueError("segment.max_s must be >= segment.min_s")
        return v
