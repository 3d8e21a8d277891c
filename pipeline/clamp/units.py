"""Fingerprinted, atomically committed units inside a persistent output directory.

The CLaMP-DPO stage keeps every iteration's outputs in ``persist: true`` DVC outs. Each unit
(one round of samples, one DPO model) lives in its own sub-directory with a ``done.json``
holding the fingerprint of everything it was made from (params, inputs, the previous unit).
A unit whose fingerprint matches is reused; otherwise it is rebuilt in ``.<name>.tmp`` and
renamed into place, so a killed run never leaves a half-written unit behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_done(unit: Path, fp: str) -> bool:
    f = Path(unit) / "done.json"
    if not f.is_file():
        return False
    try:
        return json.loads(f.read_text()).get("fingerprint") == fp
    except (ValueError, OSError):
        return False


@contextmanager
def building(unit: Path, fp: str, info: dict | None = None) -> Iterator[Path]:
    """``with building(dir, fp) as tmp:`` write into ``tmp``; on success it becomes ``dir``."""
    unit = Path(unit)
    tmp = unit.parent / f".{unit.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        (tmp / "done.json").write_text(json.dumps({"fingerprint": fp, **(info or {})}, indent=2, sort_keys=True) + "\n")
        if unit.exists():
            shutil.rmtree(unit)
        os.replace(tmp, unit)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prune(root: Path, keep: set[str]) -> list[str]:
    """Remove unit dirs under ``root`` not in ``keep`` (e.g. iterations beyond a lowered K)."""
    gone = []
    if Path(root).is_dir():
        for d in sorted(Path(root).iterdir()):
            if d.is_dir() and not d.name.startswith(".") and d.name not in keep:
                shutil.rmtree(d)
                gone.append(d.name)
    return gone
