"""Readers for users' metadata: plain CSV/JSONL tables, MAESTRO v3, ATEPP, Aria eval splits.

Each reader yields ``(relative midi path, labels)``; paths are checked to stay inside the
data root, so a metadata file cannot point the pipeline at ``../../etc``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator

SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
PATH_COLUMNS = ("path", "midi_path", "midi_filename", "midi", "file", "filename")


class MetadataError(ValueError):
    pass


def resolve_inside(root: Path, rel: str) -> Path:
    """Resolve ``rel`` under ``root``; absolute paths and ``..`` escapes are errors."""
    if not rel or Path(rel).is_absolute():
        raise MetadataError(f"path {rel!r} must be relative to {root}")
    p = (root / rel).resolve()
    if p != root and root not in p.parents:
        raise MetadataError(f"path {rel!r} escapes the data root {root}")
    return p


def normalise_split(value: str | None) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    s = SPLIT_NAMES.get(str(value).strip().lower())
    if s is None:
        raise MetadataError(f"unknown split {value!r}; use train/val/test")
    return s


def _table_rows(path: Path) -> list[dict]:
    if path.suffix in (".jsonl", ".ndjson"):
        rows = []
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise MetadataError(f"{path}:{i}: not valid JSON: {e}") from None
        return rows
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _from_table(path: Path, rename: dict[str, str], path_cols=PATH_COLUMNS) -> Iterator[tuple[str, dict]]:
    rows = _table_rows(path)
    if not rows:
        return
    col = next((c for c in path_cols if c in rows[0]), None)
    if col is None:
        raise MetadataError(f"{path}: no path column (expected one of {', '.join(path_cols)})")
    for row in rows:
        labels = {}
        for k, v in row.items():
            if k == col or v in (None, ""):
                continue
            key = rename.get(k, k)
            labels[key] = normalise_split(v) if key == "split" else v
        yield str(row[col]), labels


def _from_aria_eval(path: Path) -> Iterator[tuple[str, dict]]:
    """Aria's eval-splits ``metadata.json``: category -> split -> path -> label."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise MetadataError(f"{path}: expected category -> split -> path -> label")
    merged: dict[str, dict] = {}
    for category, splits in data.items():
        for split, entries in splits.items():
            for rel, label in entries.items():
                d = merged.setdefault(rel, {})
                d[category] = label
                d["split"] = normalise_split(split)
    yield from merged.items()


def detect_format(path: Path) -> str:
    if path.suffix == ".json":
        return "aria_eval"
    if path.suffix == ".csv":
        header = path.open(encoding="utf-8").readline()
        if "canonical_composer" in header:
            return "maestro"
        if "artist_id" in header or ("artist" in header and "midi_path" in header):
            return "atepp"
    return "table"


def read_metadata(path: Path, fmt: str = "auto") -> list[tuple[str, dict]]:
    if not path.is_file():
        raise MetadataError(f"metadata file {path} not found")
    fmt = detect_format(path) if fmt == "auto" else fmt
    try:
        if fmt == "aria_eval":
            return list(_from_aria_eval(path))
        if fmt == "maestro":
            return list(
                _from_table(path, {"canonical_composer": "composer", "canonical_title": "title"}, ("midi_filename",))
            )
        if fmt == "atepp":
            return list(_from_table(path, {"artist": "performer", "track": "title"}, ("midi_path",)))
        return list(_from_table(path, {}))
    except (KeyError, AttributeError, TypeError, json.JSONDecodeError, csv.Error) as e:
        raise MetadataError(f"{path}: malformed {fmt} metadata: {e}") from None
