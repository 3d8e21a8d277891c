"""Which weights a model dir holds, as every report names them: read from the manifest its stage
wrote (pipeline/orchestration/training.py records ``init`` and the trained ``steps``)."""

from __future__ import annotations

import json
from pathlib import Path


def model_origin(model_dir: Path) -> dict:
    """{"model": ``models/<stage>``; "init": the released file its stage imported (``steps`` 0) or
    trained from, {path, hash}, None when trained from scratch or from the DAG's own upstream model;
    "steps": the steps trained here}. A dir without a manifest (made outside the DAG) gives None for
    both."""
    manifest = Path(model_dir) / "manifest.json"
    m = json.loads(manifest.read_text()) if manifest.is_file() else {}
    return {
        "model": f"models/{m.get('stage', Path(model_dir).name)}",
        "init": m.get("init"),
        "steps": (m.get("metrics") or {}).get("steps"),
    }
