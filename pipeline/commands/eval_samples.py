"""A samples folder -> an in-memory samples contract (:mod:`pipeline.eval.samples_contract`), so
``ostinato eval`` scores it through the same path as the ``eval_generators`` stage
(:func:`pipeline.eval.generator_table.generator_table`). The command layer may import families,
the eval layer may not: ABC is rendered here as NotaGen's family does (interleaved ABC -> abc2xml
-> music21 -> MIDI) and reaches CLaMP through its ABC path; MIDI goes to the shared reader.

Checks behind Validity, each failure kept as ``check: reason``:
- ``decode``: the file reads into notes (MIDI: a readable, non-empty file; ABC: rests restored
  for a generated text, the score renders to MIDI);
- ``end``: the piece ends properly (MIDI: every note is released, checked by the eval layer; ABC:
  the tune's last line carries a closing bar line, ``|]``, ``||`` or ``:|``, which a piece cut by
  a length cap lacks);
- ``family``: NotaGen's interleaved-ABC check (voices per bar, bar counts, equal bar lengths).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pipeline.eval.samples_contract import Contract, ContractSample

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


def _abc_text(text: str) -> tuple[str | None, str | None]:
    """(interleaved ABC, None) or (None, reason): a generated text (``[r:i/j]`` stream tags) gets
    its rests restored, as NotaGen's inference writes its interleaved output."""
    from pipeline.notagen.rests import restore_rests

    if any(line.startswith("[r:") for line in text.splitlines()):
        return restore_rests(text)
    return text, None


def abc_sample(path: Path, name: str, label: str, work: Path) -> ContractSample:
    """One ABC file as a contract entry: the interleaved text (written to ``work``) is what the
    scorer reads, its MIDI rendering (in ``work``, absent when it fails) gives the notes."""
    from pipeline.notagen.abc_check import validate_interleaved
    from pipeline.notagen.render import ScoreRenderError, to_score, write_midi

    stem = work / str(len(list(work.iterdir())))
    s = ContractSample(stem.with_suffix(".abc"), label, name=name, format="abc")
    raw = path.read_text(encoding="utf-8", errors="replace")
    interleaved, why = _abc_text(raw)
    s.path.write_text(interleaved or raw, encoding="utf-8")
    if interleaved is None:
        s.problems.append(f"decode: {why}")
        return s
    body = [ln.rstrip() for ln in interleaved.splitlines() if ln.strip() and ln.lstrip().startswith("[V:")]
    if not body or not any(bar in body[-1] for bar in _FINAL_BARS):
        s.problems.append("end: the last line has no closing bar line (|], || or :|)")
    ok, why = validate_interleaved(interleaved)
    if not ok:
        s.problems.append(f"family: {why}")
    try:
        write_midi(to_score(interleaved), stem.with_suffix(".mid"))
        s.midi = stem.with_suffix(".mid")
    except (ScoreRenderError, ValueError) as e:
        s.problems.append(f"decode: {e}")
    return s


def folder_contract(folder: Path, family: str, label: str, work: Path, progress: Callable | None = None) -> Contract:
    """Every piece in ``folder`` (nothing dropped) as one contract: one table row, ``family label``;
    pieces are named by their path in the folder. ``work`` must outlive the scoring."""
    files = sample_files(folder)
    samples = []
    for p in progress(files) if progress else files:
        name = str(p.relative_to(folder))
        if p.suffix.lower() != ".abc":
            samples.append(ContractSample(p, label, midi=p, name=name, format="midi"))
            continue
        try:
            samples.append(abc_sample(p, name, label, work))
        except OSError as e:
            samples.append(ContractSample(p, label, name=name, format="abc", problems=[f"decode: cannot read ({e})"]))
    return Contract(family, "abc" if all(s.format == "abc" for s in samples) else "midi", samples, folder)
