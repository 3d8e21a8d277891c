"""Files of a samples folder -> :class:`pipeline.eval.metric_table.Sample` (the ``eval`` command's
reader; the command layer may import families, the eval layer may not).

One representation for every row: MIDI goes through the shared note model and is written back by
one writer (:func:`pipeline.eval.sanity.write_midi`), so real, generated and corrupted pieces
reach CLaMP's MTF path through the same bytes. ABC is rendered to notes as NotaGen's family does
(interleaved ABC -> abc2xml -> music21 -> MIDI) and reaches CLaMP through its ABC path.

Checks behind Validity, each failure kept as ``check: reason``:
- ``decode``: the file reads into notes (MIDI: a readable, non-empty file; ABC: rests restored
  for a generated text, the score renders to MIDI);
- ``end``: the piece ends properly (MIDI: every note is released; ABC: the tune's last line
  carries a closing bar line, ``|]``, ``||`` or ``:|``, which a piece cut by a length cap lacks);
- ``family``: NotaGen's interleaved-ABC check (voices per bar, bar counts, equal bar lengths).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Callable

from pipeline.eval.metric_table import Sample

SUFFIXES = (".mid", ".midi", ".abc")
_FINAL_BARS = ("|]", "||", ":|")


def sample_files(folder: Path) -> list[Path]:
    """MIDI and ABC files under ``folder``. Files of one piece (NotaGen writes name.abc,
    name.interleaved.abc and name.mid) count once: the .abc as generated wins, then the
    interleaved one, so a piece whose render failed is still counted (as invalid)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"samples folder not found: {folder}")
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    by_piece: dict[Path, list[Path]] = {}
    for p in found:
        stem = p.name.removesuffix(p.suffix).removesuffix(".interleaved")
        by_piece.setdefault(p.parent / stem, []).append(p)
    chosen = [min(ps, key=_rank) for ps in by_piece.values()]
    if not chosen:
        raise ValueError(f"{folder}: no MIDI (.mid, .midi) or ABC (.abc) files in it")
    return chosen


def _rank(p: Path) -> int:
    name = p.name.lower()
    return 1 if name.endswith(".interleaved.abc") else 0 if name.endswith(".abc") else 2


def _hanging_notes(path: Path) -> int:
    import mido

    sounding: Counter = Counter()
    for msg in mido.merge_tracks(mido.MidiFile(str(path)).tracks):
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[(msg.channel, msg.note)] += 1
        elif msg.type in ("note_off", "note_on") and sounding[(msg.channel, msg.note)]:
            sounding[(msg.channel, msg.note)] -= 1
    return sum(sounding.values())


def _abc_text(text: str) -> tuple[str | None, str | None]:
    """(interleaved ABC, None) or (None, reason): a generated text (``[r:i/j]`` stream tags) gets
    its rests restored, as NotaGen's inference writes its interleaved output."""
    from pipeline.notagen.rests import restore_rests

    if any(line.startswith("[r:") for line in text.splitlines()):
        return restore_rests(text)
    return text, None


def read_abc(path: Path, name: str, work: Path) -> Sample:
    from pipeline.data.notes import read_midi_file
    from pipeline.notagen.abc_check import validate_interleaved
    from pipeline.notagen.render import ScoreRenderError, to_score, write_midi

    s = Sample(name)
    interleaved, why = _abc_text(path.read_text(encoding="utf-8", errors="replace"))
    if interleaved is None:
        s.problems.append(f"decode: {why}")
        return s
    s.text = interleaved
    body = [ln.rstrip() for ln in interleaved.splitlines() if ln.strip() and ln.lstrip().startswith("[V:")]
    if not body or not any(bar in body[-1] for bar in _FINAL_BARS):
        s.problems.append("end: the last line has no closing bar line (|], || or :|)")
    ok, why = validate_interleaved(interleaved)
    if not ok:
        s.problems.append(f"family: {why}")
    midi = work / f"{len(list(work.iterdir()))}.mid"
    try:
        write_midi(to_score(interleaved), midi)
        s.piece = read_midi_file(midi, f"{path.name} rendered")
    except (ScoreRenderError, ValueError) as e:
        s.problems.append(f"decode: {e}")
    return s


def read_midi(path: Path, name: str, work: Path) -> Sample:
    from pipeline.clamp import mtf
    from pipeline.data.notes import read_midi_file
    from pipeline.eval.sanity import write_midi

    s = Sample(name)
    try:
        s.piece = read_midi_file(path)
    except ValueError as e:
        s.problems.append(f"decode: {e}")
        return s
    try:
        hanging = _hanging_notes(path)
    except (OSError, ValueError, EOFError) as e:
        hanging, s.problems = 0, [*s.problems, f"decode: mido cannot read {path.name} ({e})"]
    if hanging:
        s.problems.append(f"end: {hanging} note(s) never released")
    s.text = mtf_of(s.piece, work, mtf, write_midi)
    return s


def mtf_of(piece, work: Path, mtf: Callable, write_midi: Callable) -> str:
    """The piece's MTF through the one normalising writer."""
    midi = work / f"n{len(list(work.iterdir()))}.mid"
    write_midi(piece, midi)
    return mtf(midi)


def read_samples(folder: Path, progress: Callable | None = None) -> list[Sample]:
    """Every piece in ``folder`` as a Sample (``.text``: what CLaMP reads); nothing is dropped."""
    files = sample_files(folder)
    out = []
    with tempfile.TemporaryDirectory(prefix="ostinato-eval-") as tmp:
        for p in progress(files) if progress else files:
            name = str(p.relative_to(folder))
            try:
                out.append((read_abc if p.suffix.lower() == ".abc" else read_midi)(p, name, Path(tmp)))
            except (OSError, UnicodeError) as e:
                out.append(Sample(name, problems=[f"decode: cannot read {name} ({e})"]))
    return out
