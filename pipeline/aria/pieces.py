"""The pieces an Aria job reads: one MIDI file, or the rows of the ingested corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from pipeline.aria.midi import read_midi_file
from pipeline.data.ingest import midi_rows
from pipeline.data.notes import Piece


def read_midi(path: str | Path) -> Piece:
    """The notes of a MIDI file; missing, empty, corrupt or note-less files are clear errors."""
    return read_midi_file(path, "MIDI file")


def read_pieces(ingest_dir: str | Path, rows: Sequence[dict]) -> tuple[list[Piece], list[dict]]:
    """(pieces, problems) for ingest index rows (``midi`` relative to ``ingest_dir``); a file that
    cannot be read becomes a problem row {id, split, detail} instead of an exception, and an ABC-only
    sheet piece (no MIDI) one with ``reason: abc_only``."""
    split_of = {r["id"]: r.get("split") for r in rows}
    rows, skipped = midi_rows(list(rows))
    pieces, problems = [], [s | {"split": split_of[s["id"]]} for s in skipped]
    for row in rows:
        try:
            piece = read_midi(Path(ingest_dir) / row["midi"])
            piece.source = row["id"]
            pieces.append(piece)
        except (ValueError, FileNotFoundError) as e:
            problems.append({"id": row["id"], "split": row.get("split"), "detail": str(e)[:300]})
    return pieces, problems
