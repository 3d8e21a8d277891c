"""NotaGen's entry in the samples contract (pipeline/eval/samples_contract.py): the pieces
``abc_score_table`` rendered per CLaMP-DPO iteration (one row per K), as interleaved ABC (what
the scorer reads) with the MIDI, audio the stage already wrote, and NotaGen's own checks as the
sample's problems: the tune ends on a closing bar line, ``validate_interleaved`` passes."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.eval.samples_contract import write_contract
from pipeline.notagen.abc_check import validate_interleaved
from pipeline.notagen.data import prompt_of

_FINAL_BARS = ("|]", "||", ":|")


def abc_problems(text: str) -> list[str]:
    problems = []
    body = [ln.rstrip() for ln in text.splitlines() if ln.lstrip().startswith("[V:")]
    if not body or not any(bar in body[-1] for bar in _FINAL_BARS):
        problems.append("end: the last line has no closing bar line (|], || or :|)")
    ok, why = validate_interleaved(text)
    if not ok:
        problems.append(f"family: {why}")
    return problems


def write_score_table_contract(out: Path) -> Path:
    """From ``table.json``'s ``details.k<K>.rendered`` (files under ``samples/``)."""
    out = Path(out)
    details = json.loads((out / "table.json").read_text())["details"]
    samples = []
    for key in sorted(k for k in details if k.startswith("k")):
        for r in details[key].get("rendered", []):
            text_file = r.get("interleaved") or r["abc"]
            prompt = prompt_of((out / "samples" / r["abc"]).read_text(encoding="utf-8"))  # the plain ABC keeps it
            samples.append(
                {
                    "path": f"samples/{text_file}",
                    "label": f"K={key[1:]}",
                    "midi": f"samples/{r['midi']}" if r.get("midi") else None,
                    "audio": f"samples/{r['audio']}" if r.get("audio") else None,
                    "composer": prompt[1] if prompt else None,  # what gnm_eval's style verdicts map
                    "problems": abc_problems((out / "samples" / text_file).read_text(encoding="utf-8")),
                }
            )
    return write_contract(out, "notagen", "abc", samples)
