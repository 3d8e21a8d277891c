"""Inputs and outputs of the ``linear_probe`` stage: embedder directories, extra label files,
``metrics.json`` (for ``dvc metrics show``) and ``table.md`` (every embedder on every task)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ORDER = ("contrastive", "frozen_mean", "frozen_last", "handcrafted")


# ----------------------------------------------------------------------------- inputs
def embedder_dirs(embed_dir: Path, names: Sequence[str] | None = None) -> dict[str, Path]:
    """{name: dir} of every ``<embed_dir>/<name>/embeddings.npy`` (or just ``names``, which must exist)."""
    found = {d.name: d for d in sorted(Path(embed_dir).iterdir()) if (d / "embeddings.npy").is_file()}
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            raise ValueError(f"linear_probe.embedders {missing} not found in {embed_dir} (have {sorted(found)})")
        found = {n: found[n] for n in names}
    if not found:
        raise ValueError(f"no embeddings in {embed_dir}: run the embed stage")
    return dict(sorted(found.items(), key=lambda kv: (ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER), kv[0])))


def load_embedder(d: Path) -> tuple[np.ndarray, list[dict]]:
    x = np.load(d / "embeddings.npy")
    rows = [json.loads(line) for line in open(d / "index.jsonl", encoding="utf-8") if line.strip()]
    if len(rows) != len(x):
        raise ValueError(f"{d}: {len(x)} embeddings but {len(rows)} index rows")
    return x, rows


def merge_extra_metadata(rows: list[dict], path: Path) -> tuple[list[dict], dict[str, Any]]:
    """Add label columns from Aria's eval-splits ``metadata.json`` (category -> split -> path ->
    label) or a CSV/JSONL table (a path column + label columns) to the rows' ``labels``.

    An entry matches a piece by piece id, by ``source_id`` (the path under the ingest source's
    root), or by file name or stem; its split is ignored (the probe uses the ingest splits).
    No entry matching any piece is a ValueError (a path mismatch, not a silent no-op)."""
    from pipeline.data.metadata import read_metadata

    entries = read_metadata(Path(path))
    keys: dict[str, int] = {}
    for i, r in enumerate(rows):
        sid = str(r.get("source_id") or "")
        for k in (r["id"], sid, Path(sid).name, Path(sid).stem):
            if k:
                keys.setdefault(k, i)
    out = [dict(r, labels=dict(r.get("labels") or {})) for r in rows]
    matched, unmatched, columns = set(), [], set()
    for rel, labels in entries:
        hit = next((keys[k] for k in (rel, Path(rel).name, Path(rel).stem) if k in keys), None)
        if hit is None:
            unmatched.append(rel)
            continue
        extra = {k: v for k, v in labels.items() if k != "split"}
        out[hit]["labels"].update(extra)
        columns |= set(extra)
        matched.add(hit)
    if entries and not matched:
        raise ValueError(
            f"linear_probe.extra_metadata {path}: none of its {len(entries)} paths matches a "
            f"piece (by id, source_id, file name or stem), e.g. {entries[0][0]!r}"
        )
    return out, {
        "file": str(path),
        "entries": len(entries),
        "matched_pieces": len(matched),
        "unmatched_entries": len(unmatched),
        "columns": sorted(columns),
    }


# ----------------------------------------------------------------------------- outputs
def _cell(res: dict, metric: str) -> str:
    if "skipped" in res:
        return "skipped"
    lo, hi = (res.get("ci95") or {}).get(metric, (None, None))
    ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None else ""
    return f"{res[metric]:.2f}{ci}"


def metrics_json(results: dict[str, dict[str, dict]], retrieval: dict[str, dict]) -> dict:
    m: dict[str, Any] = {}
    for task, per in results.items():
        m[task] = {
            e: {"accuracy": round(r["accuracy"], 4), "macro_f1": round(r["macro_f1"], 4)}
            for e, r in per.items()
            if "skipped" not in r
        }
    if retrieval:
        m["retrieval"] = {e: {"top1": r["top1"], "top5": r["top5"]} for e, r in retrieval.items()}
    return m


def table_md(results: dict[str, dict[str, dict]], retrieval: dict[str, dict], header: str) -> str:
    embedders = list(dict.fromkeys(e for per in results.values() for e in per))
    lines = [
        "# Linear probes",
        "",
        header,
        "",
        "| task | metric | " + " | ".join(embedders) + " | majority class |",
        "|---|---|" + "---|" * len(embedders) + "---|",
    ]
    notes = []
    for task, per in results.items():
        first = next(iter(per.values()))
        if "skipped" in first:
            lines.append(f"| {task} | — | " + " | ".join("skipped" for _ in embedders) + " | — |")
            notes.append(f"- **{task}**: skipped, {first['skipped']}.")
        else:
            desc = (
                f"{task} ({len(first['classes'])} classes, {first['n_train']} train / "
                f"{first['n_test']} test, {first['protocol']})"
            )
            lines.append(
                f"| {desc} | accuracy | "
                + " | ".join(_cell(per[e], "accuracy") for e in embedders)
                + f" | {first['majority_accuracy']:.2f} |"
            )
            lines.append("| | macro-F1 | " + " | ".join(_cell(per[e], "macro_f1") for e in embedders) + " | — |")
            notes.append(f"- **{task}**: {first['protocol_note']}; classes: {', '.join(first['classes'])}.")
        if first["dropped_classes"]:
            dropped = ", ".join(f"{c} ({n})" for c, n in first["dropped_classes"].items())
            notes.append(
                f"- **{task}**: dropped classes with fewer than k={first['min_class_count']} pieces: {dropped}."
            )
        if first.get("unlabelled"):
            notes.append(f"- **{task}**: {first['unlabelled']} pieces have no {task} label (not probed).")
    lines += [
        "",
        "Cells: point estimate [95% bootstrap CI]. Majority class: accuracy of always "
        "predicting the most frequent training class.",
        "",
        *notes,
    ]
    if retrieval:
        lines += [
            "",
            "## Retrieval: the other slice of the same piece",
            "",
            "Two disjoint slices of each test piece, each embedded alone; for every slice, the "
            "slices of all pieces are ranked by cosine similarity (both directions averaged).",
            "",
            "| embedder | pieces | top-1 | top-5 | chance top-1 | chance top-5 | mean rank |",
            "|---|---|---|---|---|---|---|",
        ]
        for e, r in retrieval.items():
            lines.append(
                f"| {e} | {r['n']} | {r['top1']:.2f} | {r['top5']:.2f} | {r['chance_top1']:.2f} | "
                f"{r['chance_top5']:.2f} | {r['mean_rank']:.1f} |"
            )
    return "\n".join(lines) + "\n"
