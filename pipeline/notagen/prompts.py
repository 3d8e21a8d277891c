"""The valid period-composer-instrumentation prompts of a fine-tuned NotaGen model.

Ours: ``prompts.json`` next to the weights (written by ``abc_finetune`` from its training data).
Upstream's ``prompts.txt`` (gradio/) has one ``period_composer_instrumentation`` per line.
An unknown triple is an :class:`UnknownPromptError` that lists the nearest valid ones.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

Triple = tuple[str, str, str]


class UnknownPromptError(ValueError):
    """A period/composer/instrumentation triple the model was not fine-tuned on."""


def read_prompts(path: str | Path) -> list[Triple]:
    path = Path(path)
    if path.suffix == ".json":
        return [(r["period"], r["composer"], r["instrumentation"]) for r in json.loads(path.read_text())]
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split("_")
        if len(parts) == 3:
            out.append(tuple(p.strip() for p in parts))
    return out  # type: ignore[return-value]


def find_prompts(checkpoint: str | Path) -> Path | None:
    """``prompts.json`` (ours) or ``prompts.txt`` (upstream) beside a checkpoint file or in its dir."""
    p = Path(checkpoint)
    folder = p if p.is_dir() else p.parent
    for name in ("prompts.json", "prompts.txt"):
        if (folder / name).is_file():
            return folder / name
    return None


def nearest(triple: Triple, valid: list[Triple], n: int = 5) -> list[Triple]:
    def key(t: Triple) -> str:
        return " / ".join(x.lower() for x in t)

    target = key(triple)
    scored = sorted(valid, key=lambda t: (-difflib.SequenceMatcher(None, target, key(t)).ratio(), t))
    return scored[:n]


def check_prompt(triple: Triple, valid: list[Triple]) -> Triple:
    """The valid triple matching ``triple`` (case-insensitively), else UnknownPromptError."""
    by_key = {tuple(x.lower() for x in t): t for t in valid}
    hit = by_key.get(tuple(x.strip().lower() for x in triple))
    if hit is not None:
        return hit
    close = "; ".join(" / ".join(t) for t in nearest(triple, valid))
    raise UnknownPromptError(
        f"unknown prompt {' / '.join(triple)!r}: the model was fine-tuned on {len(valid)} triples; nearest: {close}"
    )
