"""The interleaved-ABC corpus the scorer and the DPO loop read: ``data/tokens/abc/<split>/``.

``texts.jsonl`` holds each accepted piece's text (prompt lines first), ``labels.jsonl`` its
index labels plus the prompt triple (period, composer, instrumentation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.data.jsonl import read_jsonl


@dataclass
class AbcPiece:
    id: str
    text: str
    label: dict

    @property
    def prompt(self) -> tuple[str, str, str]:
        """(period, composer, instrumentation), the fine-tune prompt lines without '%'."""
        return prompt_of(self.text, self.label)


def prompt_of(text: str, label: dict) -> tuple[str, str, str]:
    lines = [ln[1:] for ln in text.splitlines()[:3] if ln.startswith("%") and not ln.startswith("%%")]
    if len(lines) == 3:
        return tuple(lines)  # type: ignore[return-value]
    return (str(label.get("period")), str(label.get("composer")), str(label.get("instrumentation")))


def read_split(store: str | Path, split: str, limit: int | None = None) -> list[AbcPiece]:
    """Pieces of one split in index order (``limit`` keeps the first ones)."""
    d = Path(store) / split
    if not (d / "texts.jsonl").is_file():
        raise FileNotFoundError(f"{d}/texts.jsonl is missing: run the abc_tokenize stage first")
    labels = {r["id"]: r for r in read_jsonl(d / "labels.jsonl")} if (d / "labels.jsonl").is_file() else {}
    out = [AbcPiece(r["id"], r["text"], labels.get(r["id"], {})) for r in read_jsonl(d / "texts.jsonl")]
    return out[:limit] if limit is not None else out
