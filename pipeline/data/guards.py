"""Stop a stage at once when its input split is empty, naming the split and the rejection report.

When every file of a corpus is rejected (limits too strict, wrong paths, a broken source),
each downstream stage would otherwise fail later with a shape error deep in training or
rendering. ``require_pieces`` turns that into one line: which split is empty and where the
reasons are. ``EmptySplitError`` is a ValueError raised from our own code, so ``run_stage``
prints it as one line and exits with code 2 (see pipeline/orchestration/stage.py).
"""

from __future__ import annotations

from pathlib import Path

INGEST_REJECTED = "data/ingest/rejected.jsonl"


class EmptySplitError(ValueError):
    """A stage's input split has no pieces."""


def require_pieces(what: str, n: int, report_path: str | Path = INGEST_REJECTED) -> int:
    """Return ``n`` when it is positive, else raise EmptySplitError naming ``what`` (the split,
    e.g. ``"data/tokens/aria/train"``) and ``report_path`` (the rejection report to read)."""
    if n > 0:
        return n
    raise EmptySplitError(
        f"{what} is empty (0 pieces): nothing to train or render on; see {report_path} for why every file was rejected"
    )


def count_split(rows: list[dict], split: str) -> int:
    """Pieces of ``split`` among index rows (``{"split": ...}``)."""
    return sum(1 for r in rows if r.get("split") == split)


class IncompatibleInputError(ValueError):
    """Two inputs of a stage were made with different tokenizers (or vocabularies)."""


def check_same_tokenizer(have: str | None, want: str | None, what: str, fix: str) -> None:
    """The one tokenizer-hash check: ``what`` was made with ``have``, the data uses ``want``."""
    if have and want and have != want:
        raise IncompatibleInputError(f"{what} was made with tokenizer {have}, the data uses {want}: {fix}")
