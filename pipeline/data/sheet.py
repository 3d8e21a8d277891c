"""One sheet-music piece (MusicXML or an ABC tune) at ingest: its standard ABC for the ABC families,
and its MIDI for the others when music21 can make it; a piece without MIDI is kept ABC-only (the index
row says why) so that MIDI stages can skip it with a record."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.data.midi import Rejected
from pipeline.data.sheet_convert import sheet_abc
from pipeline.data.sources import Candidate

PROMPT_LABELS = ("period", "composer", "instrumentation")


@dataclass
class SheetPiece:
    abc: str  # standard ABC (xml2abc's output, or the ABC tune as written)
    abc_from: str  # "xml2abc" or "abc"
    midi: bytes | None
    facts: dict  # n_parts, key_mode, time_signature, score_composer (empty when ABC-only)
    abc_only: str | None = None  # why there is no MIDI


def read_sheet(c: Candidate, timeout_s: float = 120.0) -> SheetPiece:
    """ABC first (a file xml2abc cannot convert is rejected); then MIDI through music21 and our writer."""
    from pipeline.data import scores

    abc, abc_from = sheet_abc(Path(c.path), c.tune, timeout_s)
    try:
        score, _ = scores.parse_candidate(c)
        facts = scores.score_labels(score)
        return SheetPiece(abc, abc_from, scores.score_to_midi_bytes(score), facts)
    except Rejected as r:
        return SheetPiece(abc, abc_from, None, {}, f"{r.reason}: {r.detail}")


def abc_only_stats(abc: str) -> dict:
    """The MIDI facts an ABC-only row cannot have, as nulls; the content hash is the ABC text's."""
    return {
        "duration_s": None,
        "n_notes": None,
        "n_tempo_events": None,
        "n_tracks": None,
        "programs": [],
        "has_drums": False,
        "content_hash": hashlib.sha256(abc.encode("utf-8")).hexdigest()[:20],
    }


def prompt_labels(labels: dict) -> dict:
    """The labels exactly as written (NotaGen's prompt lines are case-sensitive: ``%Bach, Johann Sebastian``)."""
    return {k: str(labels[k]) for k in PROMPT_LABELS if labels.get(k) not in (None, "")}


def keep_abc(c: Candidate, abc: str, dest_dir: Path) -> str:
    dest_dir.mkdir(parents=True, exist_ok=True)
    (dest_dir / f"{c.id}.abc").write_text(abc, encoding="utf-8")
    return f"abc/{c.id}.abc"
