"""The headline contract: what a stage puts first in the report, in ``reports/<stage>/headline.json``.

```
{"family": "aria", "title": "Linear probes", "order": 10, "text": "one short paragraph",
 "tables": [{"caption": "...", "columns": ["task", "acc"], "rows": [["composer", 0.81]], "digits": 2}],
 "figures": ["confusion/composer.png"],
 "samples": [{"name": "piece 3", "caption": "...", "audio": ["x.wav"], "midi": ["x.mid"], "image": ["x.png"]}]}
```

Paths are relative to the stage's report dir and must stay inside it. A table cell is a
number, a string, null, or ``{"value": v, "ci95": [lo, hi]}`` (see ``ci``). Stages call
``write_headline`` (strict: any problem is a ``HeadlineError``); the report reads with
``parse_headline`` (lenient: what is valid is shown, each problem is listed). docs/report.md
describes the contract for the family engineers. Stdlib only, so any stage can import it cheaply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILENAME = "headline.json"
DEFAULT_ORDER = 100
SAMPLE_KINDS = ("audio", "midi", "image")


class HeadlineError(ValueError):
    """A headline.json that breaks the contract (named file and field)."""


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Any]]
    digits: int | None = None  # fixed decimals for floats; None = 3 significant digits


@dataclass
class SampleRef:
    name: str
    caption: str = ""
    audio: list[str] = field(default_factory=list)
    midi: list[str] = field(default_factory=list)
    image: list[str] = field(default_factory=list)


@dataclass
class Headline:
    family: str
    title: str
    order: float = DEFAULT_ORDER
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    samples: list[SampleRef] = field(default_factory=list)


def ci(value: float | None, lo: float | None = None, hi: float | None = None) -> dict | float | None:
    """A table cell with its 95% confidence interval (``value`` alone when there is none)."""
    if lo is None or hi is None:
        return value
    return {"value": value, "ci95": [lo, hi]}


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def valid_cell(v: Any) -> bool:
    if v is None or isinstance(v, (str, bool)) or _is_num(v):  # nan / inf are shown as such
        return True
    if isinstance(v, dict) and "value" in v and set(v) <= {"value", "ci95"}:
        c = v.get("ci95")
        return (
            valid_cell(v["value"])
            and not isinstance(v["value"], dict)
            and (c is None or (isinstance(c, list) and len(c) == 2 and all(_is_num(x) for x in c)))
        )
    return False


def _paths(raw: Any, where: str, stage_dir: Path, problems: list[str]) -> list[str]:
    """Relative file paths that exist inside ``stage_dir``; the rest become problems."""
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if items is None:
        problems.append(f"{where}: expected a path or a list of paths, got {type(raw).__name__}")
        return []
    root = stage_dir.resolve()
    good = []
    for rel in items:
        if not isinstance(rel, str) or not rel:
            problems.append(f"{where}: {rel!r} is not a path")
            continue
        p = (stage_dir / rel).resolve()
        if Path(rel).is_absolute() or not p.is_relative_to(root):
            problems.append(f"{where}: {rel!r} escapes the stage's report dir")
        elif not p.is_file():
            problems.append(f"{where}: {rel!r} does not exist")
        else:
            good.append(Path(rel).as_posix())
    return good


def _table(raw: Any, where: str, problems: list[str]) -> Table | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), list) or not isinstance(raw.get("rows"), list):
        problems.append(f"{where}: a table needs 'columns' and 'rows' lists")
        return None
    cols = [str(c) for c in raw["columns"]]
    rows = []
    for i, row in enumerate(raw["rows"]):
        if not isinstance(row, list):
            problems.append(f"{where}.rows[{i}]: not a list")
            continue
        if len(row) != len(cols):
            problems.append(f"{where}.rows[{i}]: {len(row)} cells for {len(cols)} columns")
            row = (row + [None] * len(cols))[: len(cols)]
        bad = [j for j, c in enumerate(row) if not valid_cell(c)]
        if bad:
            problems.append(f"{where}.rows[{i}]: cells {bad} are not a number, string, null or {{'value', 'ci95'}}")
            row = [c if j not in bad else json.dumps(c, default=str)[:80] for j, c in enumerate(row)]
        rows.append(row)
    digits = raw.get("digits")
    if digits is not None and not (isinstance(digits, int) and 0 <= digits <= 8):
        problems.append(f"{where}.digits: expected an integer 0..8")
        digits = None
    return Table(str(raw.get("caption", "")), cols, rows, digits)


def parse_headline(data: Any, stage_dir: Path, default_family: str = "") -> tuple[Headline | None, list[str]]:
    """The valid part of a headline and every problem found (``where: what``)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return None, [f"{FILENAME}: expected an object, got {type(data).__name__}"]
    unknown = sorted(set(data) - {"family", "family_title", "title", "order", "text", "tables", "figures", "samples"})
    if unknown:
        problems.append(f"unknown keys {unknown}")
    family = data.get("family", default_family)
    if not isinstance(family, str) or not family:
        problems.append("family: expected a non-empty string")
        family = default_family
    order = data.get("order", DEFAULT_ORDER)
    if not _is_num(order):
        problems.append("order: expected a number")
        order = DEFAULT_ORDER
    h = Headline(family=family, title=str(data.get("title") or family), order=order, text=str(data.get("text", "")))
    for i, t in enumerate(data.get("tables") or []):
        if (table := _table(t, f"tables[{i}]", problems)) is not None:
            h.tables.append(table)
    h.figures = _paths(data.get("figures") or [], "figures", stage_dir, problems)
    raw_samples = data.get("samples") or []
    for i, s in enumerate(raw_samples if isinstance(raw_samples, list) else []):
        if not isinstance(s, dict):
            problems.append(f"samples[{i}]: expected an object")
            continue
        ref = SampleRef(name=str(s.get("name") or f"sample {i}"), caption=str(s.get("caption") or ""))
        for kind in SAMPLE_KINDS:
            setattr(ref, kind, _paths(s.get(kind) or [], f"samples[{i}].{kind}", stage_dir, problems))
        h.samples.append(ref)
    if not isinstance(raw_samples, list):
        problems.append("samples: expected a list")
    return h, problems


def write_headline(stage_dir: Path, headline: dict) -> Path:
    """Validate ``headline`` against the files already in ``stage_dir`` and write it (sorted keys,
    so identical runs give identical bytes). Write it last, after the files it names."""
    _, problems = parse_headline(headline, Path(stage_dir))
    if not headline.get("family"):
        problems.insert(0, "family: required")
    if problems:
        raise HeadlineError(f"{Path(stage_dir) / FILENAME}: " + "; ".join(problems))
    path = Path(stage_dir) / FILENAME
    path.write_text(json.dumps(headline, indent=2, sort_keys=True) + "\n")
    return path
