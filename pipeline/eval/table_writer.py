"""The metric table out to files: ``table.json`` (every number) and ``table.md`` (one line per row)."""

from __future__ import annotations

from pathlib import Path

from pipeline.data.jsonl import write_json
from pipeline.eval.note_stats import STATISTICS

COLUMNS = ("validity", "fmd", "fmd_inf", *STATISTICS)
HEADERS = {
    "validity": "valid",
    "fmd": "FMD ↓",
    "fmd_inf": "FMD-Inf ↓",
    "pitch_class_entropy": "PC entropy ↑",
    "pitch_range": "range ↑",
    "polyphony": "polyphony ↑",
    "note_density": "density ↑",
    "grooving_similarity": "groove ↑",
    "ioi_histogram": "IOI hist ↑",
    "pitch_interval_histogram": "interval hist ↑",
}


def cell_text(cell: dict) -> str:
    if cell.get("value") is None:
        return "n/a"
    lo, hi = cell["ci95"]
    return f"{cell['value']:.3g} [{lo:.3g}, {hi:.3g}]"


def markdown(table: dict) -> str:
    # name the reference as it was chosen: on micro it includes the train split, so "held-out" would be false
    source = f", the held half of {table['reference_source']}" if table.get("reference_source") else ""
    lines = [
        f"Reference: {table['reference_pieces']} pieces{source}. Cells: value [95% bootstrap interval, "
        f"{table['config']['n_boot']} resamples of the row's pieces; FMD-Inf: median and 2.5-97.5% of "
        f"{table['config']['n_boot_inf']} runs of its extrapolation]. "
        "FMD (estimator " + table["config"]["estimator"] + "): lower is closer. Statistics: overlapping area of "
        "the reference's intra-set distances and the row-to-reference distances (Yang & Lerch 2020): higher is closer.",
        "",
        "| row | pieces | " + " | ".join(HEADERS[c] for c in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for r in table["rows"]:
        cells = " | ".join(cell_text(r["cells"][c]) for c in COLUMNS)
        lines.append(f"| {r['row']} | {r['valid']}/{r['pieces']} | {cells} |")
    notes = [f"- **{r['row']}**: {r['note']}" for r in table["rows"] if r["note"]]
    invalid = [
        f"- {r['row']}: " + ", ".join(f"{k} {v}" for k, v in r["invalid_by_check"].items())
        for r in table["rows"]
        if r["invalid_by_check"]
    ]
    if notes:
        lines += ["", *notes]
    if table.get("warnings"):
        lines += ["", *(f"Warning: {w}" for w in table["warnings"])]
    if invalid:
        lines += ["", "Invalid samples by failed check (details in table.json):", *invalid]
    return "\n".join(lines) + "\n"


def write_table(table: dict, out_dir: str | Path) -> None:
    """Writes both files atomically into ``out_dir`` (created if missing)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "table.json", table)
    tmp = out_dir / "table.md.tmp"
    tmp.write_text(markdown(table), encoding="utf-8")
    tmp.replace(out_dir / "table.md")
