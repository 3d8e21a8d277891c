"""Scan ``reports/*/`` generically: every stage's metrics JSON, markdown, curves (CSV / DVC
plot JSON), images, audio and MIDI, whatever stage wrote them.

Files are classified by extension and place, never by stage name, so a new stage's reports
show up without touching this code:
- ``*.json``: a curve when it is DVC plot data (a list of records, or a dict of such lists,
  with numbers), the sample index when named ``index.json`` next to samples, the manifest
  when ``manifest.json``, otherwise metrics;
- ``*.csv``/``*.tsv``: a curve when at least one column is numeric, else a table;
- ``*.md``: markdown; images, audio and MIDI: grouped into samples by file stem (or by the
  entries of an ``index.json``), images left over go to a gallery.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.orchestration.stage import ENVIRONMENT, split_timings
from pipeline.report.headline import FILENAME as HEADLINE
from pipeline.report.headline import Headline, parse_headline

IMAGE = {".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp"}
AUDIO = {".wav", ".flac", ".mp3", ".ogg", ".opus"}
MIDI = {".mid", ".midi"}
SKIP_DIRS = {"site"}  # the report's own output
X_NAMES = ("step", "steps", "iter", "iteration", "epoch", "tokens", "x", "samples", "time_s")


@dataclass
class Curve:
    rel: str  # file path relative to the stage dir
    x: str
    series: dict[str, tuple[list[float], list[float]]]  # name -> (xs, ys)


@dataclass
class Sample:
    key: str
    midi: str | None = None
    audio: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    extra_midi: dict[str, str] = field(default_factory=dict)  # e.g. {"prompt_midi": "p1/prompt.mid"}


@dataclass
class StageReport:
    name: str  # path under reports/, e.g. "data" or "tokens/aria"
    path: Path
    owner: str | None = None  # the DVC stage whose out this is, when declared
    metrics: list[tuple[str, Any]] = field(default_factory=list)
    manifests: list[tuple[str, dict]] = field(default_factory=list)
    markdown: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # unreadable files: shown, never fatal
    headline: Headline | None = None  # reports/<stage>/headline.json, see pipeline/report/headline.py
    headline_family_title: str = ""
    headline_problems: list[str] = field(default_factory=list)


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def curve_from_records(rel: str, groups: dict[str, list[dict]]) -> Curve | None:
    """DVC plot data: records like ``{"step": 1, "loss": 2.3}``, optionally grouped by name."""
    first = next((rows[0] for rows in groups.values() if rows and isinstance(rows[0], dict)), None)
    if first is None:
        return None
    x = next((k for k in first if k.lower() in X_NAMES), None)
    series: dict[str, tuple[list[float], list[float]]] = {}
    for gname, rows in groups.items():
        if not all(isinstance(r, dict) for r in rows):
            return None
        cols = [k for k in rows[0] if k != x and _num(rows[0][k]) is not None]
        for col in cols:
            xs, ys = [], []
            for i, r in enumerate(rows):
                xv = _num(r.get(x)) if x else float(i)
                yv = _num(r.get(col))
                if xv is not None and yv is not None:
                    xs.append(xv)
                    ys.append(yv)
            if ys:
                series[f"{gname}/{col}" if gname else col] = (xs, ys)
    return Curve(rel, x or "index", series) if series else None


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t" if path.suffix == ".tsv" else ","))
    return (rows[0], rows[1:]) if rows else ([], [])


def _plot_json(rel: str, data: Any) -> Curve | None:
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return curve_from_records(rel, {"": data})
    if isinstance(data, dict) and data and all(isinstance(v, list) and v for v in data.values()):
        return curve_from_records(rel, data)
    return None


def _index_entries(data: Any) -> list[dict]:
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [])
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _sample_key(rel: str) -> str:
    p = Path(rel)
    return (p.parent / p.name.split(".")[0]).as_posix()


def group_samples(stage_dir: Path, media: list[str], index: dict[str, Any]) -> tuple[list[Sample], list[str]]:
    """Samples from ``index.json`` entries that name files, else by shared stem; returns the
    samples and the images that belong to none."""
    samples: dict[str, Sample] = {}
    claimed: set[str] = set()
    media_set = set(media)
    for index_rel, data in index.items():
        base = Path(index_rel).parent
        for i, entry in enumerate(_index_entries(data)):
            s = Sample(key=str(entry.get("id") or entry.get("name") or ""))
            for k, v in entry.items():
                rel = None
                if isinstance(v, str):
                    for cand in ((base / v).as_posix(), v, Path(v).name):
                        if cand in media_set:
                            rel = cand
                            break
                if rel is None:
                    if isinstance(v, (str, int, float, bool)) and not (isinstance(v, str) and len(v) > 200):
                        s.info[k] = v
                    continue
                claimed.add(rel)
                suffix = Path(rel).suffix.lower()
                if suffix in MIDI and s.midi is None:
                    s.midi = rel
                elif suffix in MIDI:
                    s.extra_midi[k] = rel
                elif suffix in AUDIO:
                    s.audio.append(rel)
                elif suffix in IMAGE:
                    s.images.append(rel)
            first = s.midi or (s.audio or s.images or [None])[0]
            s.key = s.key or (Path(first).with_suffix("").as_posix() if first else f"{index_rel}#{i}")
            if s.midi or s.audio or s.images:
                samples[f"index:{index_rel}:{i}"] = s
    by_stem: dict[str, Sample] = {}
    for rel in media:
        if rel in claimed:
            continue
        key = _sample_key(rel)
        suffix = Path(rel).suffix.lower()
        s = by_stem.setdefault(key, Sample(key=Path(key).name))
        if suffix in MIDI:
            s.midi = rel
        elif suffix in AUDIO:
            s.audio.append(rel)
        else:
            s.images.append(rel)
    loose: list[str] = []
    for key, s in sorted(by_stem.items()):
        if s.midi or s.audio:
            samples[key] = s
        else:
            loose.extend(s.images)
    return list(samples.values()), sorted(loose)


def scan_stage(stage_dir: Path, name: str | None = None, owner: str | None = None) -> StageReport:
    rep = StageReport(name=name or stage_dir.name, path=stage_dir, owner=owner)
    media: list[str] = []
    index: dict[str, Any] = {}
    files = sorted(
        p
        for p in stage_dir.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(stage_dir).parts)
        and p != stage_dir / ENVIRONMENT
    )  # the machine and its timings: never in the (hashed) site
    for f in files:
        rel = f.relative_to(stage_dir).as_posix()
        suffix = f.suffix.lower()
        try:
            if suffix == ".json":
                data = json.loads(f.read_text())
                if rel == HEADLINE:
                    rep.headline, rep.headline_problems = parse_headline(data, stage_dir)
                    if rep.headline is not None:
                        rep.headline.title = rep.headline.title or rep.name
                        rep.headline_family_title = str(data.get("family_title") or "")
                elif f.name == "manifest.json" and isinstance(data, dict):
                    rep.manifests.append((rel, data))
                elif f.name == "index.json" and _index_entries(data):
                    index[rel] = data
                    meta = {k: v for k, v in data.items() if not isinstance(v, list)} if isinstance(data, dict) else {}
                    if meta:  # e.g. the model and sampling settings next to the sample list
                        rep.metrics.append((rel, split_timings(meta)[0]))
                elif (curve := _plot_json(rel, data)) is not None:
                    rep.curves.append(curve)
                else:  # run speed differs run to run: kept out of the (hashed) site
                    rep.metrics.append((rel, split_timings(data)[0]))
            elif suffix in (".csv", ".tsv"):
                header, rows = read_csv(f)
                records = [dict(zip(header, r)) for r in rows]
                # one row is a table, except a training curve (a short run still has its one point)
                is_curve = records and (len(rows) > 1 or rel == "plots/loss.csv")
                curve = curve_from_records(rel, {"": records}) if is_curve else None
                if curve is not None:
                    rep.curves.append(curve)
                else:
                    rep.tables.append((rel, header, rows))
            elif suffix == ".md":
                rep.markdown.append((rel, f.read_text(errors="replace")))
            elif suffix in IMAGE | AUDIO | MIDI:
                media.append(rel)
            else:
                rep.other.append(rel)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            rep.errors.append(f"{rel}: {e}")
            if rel == HEADLINE:
                rep.headline_problems.append(f"unreadable: {e}")
            rep.other.append(rel)
    rep.samples, rep.images = group_samples(stage_dir, media, index)
    for rel in index:
        if rel not in rep.other:
            rep.other.append(rel)
    return rep


def report_units(reports_dir: Path, declared: list[tuple[str, str]] | None = None) -> list[tuple[str, str | None]]:
    """What gets a section: each declared ``reports/...`` out (a file out stands for its
    folder), in the given (DAG) order, then every other top-level folder of ``reports/`` that
    no declared out covers, alphabetically. Returns ``(path under reports/, owner stage)``."""
    units: dict[str, str | None] = {}
    for out, owner in declared or []:
        p = reports_dir.parent / out
        rel = (p if p.is_dir() else p.parent).relative_to(reports_dir).as_posix()
        if p.exists() and rel != "." and rel.split("/")[0] not in SKIP_DIRS:
            units.setdefault(rel, owner)
    if reports_dir.is_dir():
        for d in sorted(reports_dir.iterdir()):
            if not d.is_dir() or d.name in SKIP_DIRS or d.name.startswith("."):
                continue
            if not any(u == d.name or u.startswith(d.name + "/") or d.name.startswith(u + "/") for u in units):
                units[d.name] = None
    return list(units.items())


def scan_reports(reports_dir: Path, declared: list[tuple[str, str]] | None = None) -> list[StageReport]:
    """Every report folder (see ``report_units``) scanned, the site itself excluded."""
    return [scan_stage(reports_dir / rel, rel, owner) for rel, owner in report_units(reports_dir, declared)]
