"""The cross-generator table: every generator's samples (read through the samples contract,
:mod:`pipeline.eval.samples_contract`) against a reference of real pieces, with the real-vs-real
ceiling and two sanity rows (:mod:`pipeline.eval.metric_table`). The one scoring path behind the
``eval_generators`` stage (contracts from ``samples.json``, corpus splits as reference) and
``ostinato eval`` (contracts built in memory from folders, pipeline/commands/eval_samples.py).

Generic: no family import. The caller hands in the feature extractor (``features(text)``) and
the MIDI -> text function (``to_text(midi_path)``) of its scorer; families hand in their samples,
their MIDI renderings of ABC and their own validity checks through their contracts.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.data.notes import read_midi_file
from pipeline.eval.metric_table import Row, Sample, TableConfig, build_table, split_halves
from pipeline.eval.samples_contract import Contract, ContractSample
from pipeline.eval.sanity import random_pitch, shuffled_onsets, write_midi
from pipeline.eval.table_writer import COLUMNS

LOWER_IS_BETTER = ("fmd", "fmd_inf")
BASELINES = ("reference half", "shuffled onsets", "random pitch")


@dataclass
class Scorer:
    features: Callable[[str], np.ndarray]  # text (MTF or ABC) -> feature vector
    to_text: Callable[[Path], str]  # MIDI file -> the text the scorer reads (MTF)


def _hanging_notes(path: Path) -> int:
    import mido

    sounding: Counter = Counter()
    for msg in mido.merge_tracks(mido.MidiFile(str(path)).tracks):
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[(msg.channel, msg.note)] += 1
        elif msg.type in ("note_off", "note_on") and sounding[(msg.channel, msg.note)]:
            sounding[(msg.channel, msg.note)] -= 1
    return sum(sounding.values())


def _normalised_text(piece, work: Path, scorer: Scorer) -> str:
    """The piece through the one MIDI writer, so every MIDI row reaches the scorer as the same bytes."""
    midi = work / f"n{len(list(work.iterdir()))}.mid"
    write_midi(piece, midi)
    return scorer.to_text(midi)


def read_midi_sample(path: Path, name: str, work: Path, scorer: Scorer) -> Sample:
    s = Sample(name)
    try:
        s.piece = read_midi_file(path)
        hanging = _hanging_notes(path)
    except (OSError, ValueError, EOFError) as e:
        s.piece, s.problems = None, [f"decode: {path.name}: {e}"]
        return s
    if hanging:
        s.problems.append(f"end: {hanging} note(s) never released")
    s.text = _normalised_text(s.piece, work, scorer)
    return s


def contract_sample(c: ContractSample, fmt: str, name: str, work: Path, scorer: Scorer) -> Sample:
    """A contract entry as a Sample: MIDI samples read as MIDI; ABC samples keep their text for the
    scorer and take their notes from the family's MIDI rendering; the family's problems are kept."""
    if fmt == "midi":
        s = read_midi_sample(c.midi or c.path, name, work, scorer)
    else:
        s = Sample(name)
        try:
            s.text = c.path.read_text(encoding="utf-8")
            s.piece = read_midi_file(c.midi) if c.midi else None
        except (OSError, UnicodeError, ValueError) as e:
            s.problems.append(f"decode: {e}")
        if s.piece is None and not s.problems and not c.problems:
            s.problems.append("decode: the family wrote no MIDI rendering")
    s.problems += [p for p in c.problems if p not in s.problems]
    return s


def _rel(path: Path, root: Path | None) -> str:
    return os.path.relpath(path, root) if root else str(path)


def generator_rows(
    contracts: list[Contract], work: Path, scorer: Scorer, root: Path | None = None
) -> tuple[list[Row], dict, dict]:
    """One row per family + label, in contract order; each row's media (the first sample with
    audio: its files, relative to ``root``); and each row's formats (what reaches the scorer)."""
    rows: dict[str, Row] = {}
    media: dict[str, dict] = {}
    formats: dict[str, set] = {}
    for c in contracts:
        for i, cs in enumerate(c.samples):
            name, fmt = f"{c.family} {cs.label}", cs.format or c.format
            row = rows.setdefault(name, Row(name, [], f"{c.family} ({c.format}), {_rel(c.where, root)}"))
            row.samples.append(contract_sample(cs, fmt, cs.name or f"{name} #{i}", work, scorer))
            formats.setdefault(name, set()).add(fmt)
            if name not in media or (not media[name].get("audio") and cs.audio):
                media[name] = {k: _rel(getattr(cs, k), root) for k in ("midi", "audio", "image") if getattr(cs, k)}
                media[name]["format"] = fmt
    return list(rows.values()), media, formats


def reference_samples(reference: list, work: Path, scorer: Scorer) -> list[Sample]:
    """The reference as Samples: MIDI paths (named by file), or contracts (a folder of MIDI and ABC)."""
    out = []
    for item in reference:
        if isinstance(item, Contract):
            out += [
                contract_sample(c, c.format or item.format, c.name or c.path.name, work, scorer) for c in item.samples
            ]
        else:
            out.append(read_midi_sample(Path(item), Path(item).name, work, scorer))
    return out


class ReferencePieces(list):
    """Reference MIDI paths that remember where they come from (named in table.md)."""

    def __init__(self, paths: list[Path], source: str):
        super().__init__(paths)
        self.source = source


def _interval(cell: dict) -> tuple[float, float] | None:
    return tuple(cell["ci95"]) if cell.get("value") is not None and cell.get("ci95") else None


def best_and_separation(table: dict) -> tuple[dict, dict]:
    """Per column: the best generator rows (baselines excluded; ties all kept), and whether each sanity row's 95%
    interval is clear of the real-vs-real ceiling's (False: the metric cannot tell them apart here)."""
    by = {r["row"]: r for r in table["rows"]}
    best, sep = {}, {}
    gens = [r for r in table["rows"] if r["row"] not in BASELINES]
    for col in COLUMNS:
        vals = [(r["cells"][col]["value"], r["row"]) for r in gens if r["cells"][col].get("value") is not None]
        if vals:
            top = (min if col in LOWER_IS_BETTER else max)(v for v, _ in vals)
            best[col] = [name for v, name in vals if v == top]  # ties all marked
        if col == "validity":  # the sanity rows are valid pieces by construction: nothing to separate
            continue
        ceiling = _interval(by["reference half"]["cells"][col])
        sep[col] = {}
        for sanity in BASELINES[1:]:
            other = _interval(by[sanity]["cells"][col])
            sep[col][sanity] = bool(ceiling and other and (other[0] > ceiling[1] or other[1] < ceiling[0]))
    return best, sep


def generator_table(
    contracts: list[Contract],
    reference: list,
    scorer: Scorer,
    cfg: TableConfig,
    progress: Callable[[str], None] | None = None,
    root: Path | None = None,
    reference_source: str | None = None,
) -> dict:
    """Score every generator row, the ceiling and the sanity rows against half the reference
    (MIDI paths or contracts, :func:`reference_samples`); ``reference_source`` says in table.md
    where the reference comes from (default: a :class:`ReferencePieces`' own source). File paths in
    the table are relative to ``root`` (the repo) when given. The one scoring path behind both the
    ``eval_generators`` stage and ``ostinato eval``."""
    source = reference_source or getattr(reference, "source", None) or f"{len(reference)} reference files"
    with tempfile.TemporaryDirectory(prefix="ostinato-evalgen-") as tmp:
        work = Path(tmp)
        rows, media, formats = generator_rows(contracts, work, scorer, root)
        everything = reference_samples(reference, work, scorer)
        valid_ref = [s for s in everything if s.valid]
        if len(valid_ref) < 4:
            raise ValueError(f"{source}: needs at least 4 valid pieces to split in halves, has {len(valid_ref)}")
        scored, held = split_halves(valid_ref, seed=cfg.seed)

        def corrupt(f, s: Sample) -> Sample:
            piece = f(s.piece, seed=cfg.seed)
            return Sample(s.name, piece, text=_normalised_text(piece, work, scorer))

        rows += [
            Row("reference half", scored, "the other half of the reference (real vs real: the ceiling)"),
            Row(
                "shuffled onsets",
                [corrupt(shuffled_onsets, s) for s in scored],
                "the reference half with each note's onset redrawn in its piece's span",
            ),
            Row(
                "random pitch",
                [corrupt(random_pitch, s) for s in scored],
                "the reference half with uniform random pitches (A0..C8), rhythm kept",
            ),
        ]
    for s in [s for r in rows for s in r.samples] + held:
        if s.valid and s.text is not None:
            s.feature = np.asarray(scorer.features(s.text))
    abc_rows = [name for name, f in formats.items() if "abc" in f]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a resample with repeated pieces makes a singular product; retried with eps
        table = build_table(rows, held, cfg, progress)
    for r in table["rows"]:
        r["media"] = media.get(r["row"], {})
    table["best"], table["separates"] = best_and_separation(table)
    table["warnings"] = (
        [
            f"{', '.join(abc_rows)}: reach the scorer (partly) as ABC while the reference reaches it as MIDI (MTF): "
            "their FMD also measures the change of modality; compare them with each other, not with the MIDI rows"
        ]
        if abc_rows
        else []
    )
    ref_formats = {c.format or i.format for i in reference if isinstance(i, Contract) for c in i.samples}
    formats["reference half"] = ref_formats | (
        {"midi"} if not all(isinstance(i, Contract) for i in reference) else set()
    )
    table["feature_input"] = {r.name: sorted(formats.get(r.name, {"midi"})) for r in rows}  # sanity rows: MIDI
    table["feature_dim"] = int(np.asarray(held[0].feature).shape[0])
    table["reference_source"] = source
    table["reference_invalid"] = [{"name": s.name, "problems": s.problems} for s in everything if not s.valid]
    table["contracts"] = [_rel(c.where, root) for c in contracts]
    return table


def held_out_midi(ingest_dir: Path, splits: list[str]) -> ReferencePieces:
    """The corpus pieces of ``splits`` (data/ingest/index.jsonl), as MIDI files that name their splits."""
    from pipeline.data.jsonl import read_jsonl

    rows = [r for r in read_jsonl(Path(ingest_dir) / "index.jsonl") if r.get("split") in splits and r.get("midi")]
    if not rows:
        raise ValueError(f"{ingest_dir}/index.jsonl: no piece with a MIDI file in splits {splits}")
    where = f"{Path(ingest_dir).parent.name}/{Path(ingest_dir).name}/index.jsonl"
    return ReferencePieces([Path(ingest_dir) / r["midi"] for r in rows], f"splits {', '.join(splits)} of {where}")


def write_generator_report(table: dict, out: Path) -> dict:
    """table.json and table.md (pipeline/eval/table_writer.py) and metrics.json: per row, FMD and
    validity (the numbers DVC compares across runs)."""
    from pipeline.data.jsonl import write_json
    from pipeline.eval.table_writer import write_table

    write_table(table, out)
    metrics = {
        r["row"]: {c: r["cells"][c]["value"] for c in ("fmd", "validity")} | {"pieces": r["pieces"]}
        for r in table["rows"]
    }
    write_json(Path(out) / "metrics.json", metrics)
    return metrics
