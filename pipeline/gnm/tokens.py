"""Where gnm_tokenize writes its token store, and the check that it holds GnM events."""

from __future__ import annotations

import json

from pipeline.config import repo_root

TOKENS = "data/tokens/remi"


def events_meta(stage: str) -> dict:
    """``tokenizer_meta.json`` of the token store; ``stage`` trains on GnM events only."""
    meta = json.loads((repo_root() / TOKENS / "tokenizer_meta.json").read_text())
    if meta.get("name") != "gnm-events":
        raise ValueError(f"{stage} needs GnM events: set gnm_tokenize.tokenizer: gnm (it is {meta.get('name')})")
    return meta
