"""Aria's entry in the samples contract (pipeline/eval/samples_contract.py): the continuations
``aria_generate`` wrote, one row per model (``finetune``), read from its ``index.json``."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.eval.samples_contract import write_contract


def write_aria_contract(out: Path) -> Path:
    index = json.loads((Path(out) / "index.json").read_text())
    label = Path(index["model"]).name.removeprefix("aria_")
    samples = [
        {
            "path": s["midi"],
            "label": label,
            "midi": s["midi"],
            "audio": s.get("audio"),
            "image": s.get("png"),
            "composer": s.get("composer"),
        }
        for s in index["samples"]
    ]
    return write_contract(out, "aria", "midi", samples)
