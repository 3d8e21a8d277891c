"""Aria's entry in the samples contract (pipeline/eval/samples_contract.py): the continuations
``aria_generate`` wrote, one row per model (``finetune``, and ``pretrain`` from ``pretrain/``),
read from their ``index.json``."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.eval.samples_contract import write_contract


def _rows(out: Path, sub: str) -> list[dict]:
    """The samples of the index.json in ``out/sub``, paths relative to ``out``."""
    index = json.loads((out / sub / "index.json").read_text())
    label = Path(index["model"]).name.removeprefix("aria_")
    at = (lambda rel: f"{sub}/{rel}" if rel else rel) if sub else (lambda rel: rel)
    return [
        {
            "path": at(s["midi"]),
            "label": label,
            "midi": at(s["midi"]),
            "audio": at(s.get("audio")),
            "image": at(s.get("png")),
            "composer": s.get("composer"),
        }
        for s in index["samples"]
    ]


def write_aria_contract(out: Path) -> Path:
    out = Path(out)
    samples = _rows(out, "") + (_rows(out, "pretrain") if (out / "pretrain" / "index.json").is_file() else [])
    return write_contract(out, "aria", "midi", samples)
