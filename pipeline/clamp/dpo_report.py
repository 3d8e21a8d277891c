"""``reports/abc_dpo``: the CLaMP score per round, every DPO step, and the headline."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from pipeline.data.jsonl import write_json
from pipeline.params.clamp import AbcDpoParams
from pipeline.report.headline import write_headline


def loss_rows(models: Path, iterations: int) -> list[dict]:
    """Every DPO step of every iteration, the steps numbered on across iterations."""
    rows, offset = [], 0
    for k in range(1, iterations + 1):
        src = models / f"iter_{k}" / "report"
        if (src / "plots" / "loss.csv").is_file():
            with open(src / "plots" / "loss.csv") as fh:
                part = list(csv.DictReader(fh))
            for r in part:
                rows.append({**r, "iteration": k, "step": offset + int(float(r["step"]))})
            offset = rows[-1]["step"] if rows else offset
    return rows


def headline(models: Path, summary: list[dict], p: AbcDpoParams) -> dict:
    table = []
    for r in summary[:-1]:
        k, c = r["k"] + 1, r["preference_counts"]
        m = (
            json.loads((models / f"iter_{k}" / "report" / "metrics.json").read_text())
            if (models / f"iter_{k}" / "report" / "metrics.json").is_file()
            else {}
        )
        fails = ", ".join(f"{n[7:]} {v}" for n, v in c.items() if n.startswith("failed_")) or "none"
        table.append(
            [
                k,
                r["n"],
                r["complete"],
                c.get("chosen"),
                c.get("rejected"),
                r["pairs"],
                fails,
                m.get("val_loss"),
                m.get("val_accuracy"),
                m.get("val_margin"),
            ]
        )
    return {
        "family": "notagen",
        "family_title": "NotaGen",
        "title": "CLaMP-DPO iterations",
        "order": 25,
        "text": "Each iteration: the previous policy's samples ranked by CLaMP score; chosen = the best that pass "
        "the checks (complete, bars aligned, instruments grouped, no near copy), rejected = the worst; "
        f"then DPO-Positive (beta {p.beta:g}, lambda {p.lam:g}) against a frozen copy of that policy.",
        "tables": [
            {
                "caption": "Preference sets and DPO per iteration (val_* on fixed preference pairs)",
                "columns": [
                    "iteration",
                    "samples",
                    "complete",
                    "chosen",
                    "rejected",
                    "pairs",
                    "filtered out",
                    "DPO loss",
                    "pair accuracy",
                    "reward margin",
                ],
                "rows": table,
            }
        ],
    }


def write_reports(report: Path, models: Path, summary: list[dict], p: AbcDpoParams) -> None:
    """summary.json, metrics.json (the CLaMP score per round), iter_k/ (each DPO run's report),
    plots/loss.csv (every DPO step, all iterations), plots/scores.csv and headline.json."""
    (report / "plots").mkdir(parents=True, exist_ok=True)
    write_json(report / "summary.json", {"iterations": p.iterations, "rounds": summary})
    write_json(report / "metrics.json", {f"clamp_score_k{r['k']}": round(r["mean_cosine"], 5) for r in summary})
    for k in range(1, p.iterations + 1):
        src = models / f"iter_{k}" / "report"
        if (src / "plots" / "loss.csv").is_file():
            shutil.copytree(src, report / f"iter_{k}", dirs_exist_ok=True)
    rows = loss_rows(models, p.iterations)
    if rows:
        cols = ["step", "iteration"] + [c for c in rows[0] if c not in ("step", "iteration")]
        with open(report / "plots" / "loss.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    with open(report / "plots" / "scores.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["k", "mean_cosine", "set_mean", "complete"])
        for r in summary:
            w.writerow([r["k"], round(r["mean_cosine"], 5), round(r["set_mean"], 5), r["complete"]])
    write_headline(report, headline(models, summary, p))
