"""JSON Lines: one record a line, sorted keys, so identical data gives identical bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable


def _plain(o):
    """numpy scalars from pretty_midi/music21 become plain numbers."""
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def write_jsonl(rows: Iterable[dict], path: Path) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, sort_keys=True, ensure_ascii=False, default=_plain) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_json(path: str | Path, obj) -> None:
    """The one JSON writer: sorted keys and a final newline, so identical data gives identical bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
