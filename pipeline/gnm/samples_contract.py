"""GnM's entry in the samples contract (pipeline/eval/samples_contract.py): the pieces
``gnm_generate`` wrote, one row per model and conditioned composer (``mastery Bach``; the
unconditioned generality model: ``generality``), read from its ``index.json``."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.eval.samples_contract import write_contract


def write_gnm_contract(out: Path) -> Path:
    index = json.loads((Path(out) / "index.json").read_text())
    samples = []
    for s in index["samples"]:
        composer = None if s["composer"] in ("None", None) else s["composer"]
        samples.append(
            {
                "path": s["midi"],
                "label": f"{s['model']} {composer}" if composer else s["model"],
                "midi": s["midi"],
                "audio": s.get("audio"),
                "image": s.get("image"),
                "composer": composer,
            }
        )
    return write_contract(out, "gnm", "midi", samples)


def write_gnm_style(eval_dir: Path, classifier: str) -> Path:
    """The style classifier's verdicts from ``gnm_eval``'s style.json, as style predictions for the
    generators table (pipeline/eval/samples_contract.py); rows named as write_gnm_contract names them.
    Its verdicts on other families' rows: ``gnm_style_foreign`` (pipeline/gnm/foreign_style.py)."""
    from pipeline.eval.samples_contract import write_style_predictions

    style = json.loads((Path(eval_dir) / "style.json").read_text())
    rows = [
        {"row": f"gnm {e['model']} {e['composer']}", "conditioned": e["composer"], "predicted": e["predicted"]}
        for pieces in style["pieces"].values()
        for e in pieces
        if e["composer"] not in ("None", None)
    ]
    classes = json.loads((Path(eval_dir) / "metrics.json").read_text())["classes"]
    return write_style_predictions(eval_dir, "gnm", classifier, classes, rows)
