"""Ingest logic shared by the ``ingest`` stage and ``ostinato data check``.

Each candidate becomes either an index row (MIDI written under ``out/midi``) or a rejection
with a reason; nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable

from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.midi import Rejected, inspect_midi, parse_midi
from pipeline.data.sources import Candidate, ListingProblem
from pipeline.data.splits import assign_split
from pipeline.params.data import IngestLimits, IngestParams, SplitParams

LABEL_FIELDS = ("composer", "period", "genre", "collection")
METRICS = ("pieces", "hours", "notes", "rejected", "duplicates")  # stats.json keys repeated in metrics.json


def midi_labels(data: bytes) -> dict:
    """Parts, key mode and time signature read from a MIDI file's own events."""
    mid, pm = parse_midi(data)
    mode = "unknown"
    for t in mid.tracks:
        ks = next((m.key for m in t if m.type == "key_signature"), None)
        if ks:
            mode = "minor" if ks.endswith("m") else "major"
            break
    ts = pm.time_signature_changes[0] if pm.time_signature_changes else None
    return {
        "n_parts": sum(1 for i in pm.instruments if i.notes),
        "key_mode": mode,
        "time_signature": f"{ts.numerator}/{ts.denominator}" if ts else "unknown",
    }


def process_candidate(c: Candidate, limits: IngestLimits, out_dir: Path | None) -> dict:
    """Returns ``{"ok": True, "row": {...}}`` or ``{"ok": False, "rejection": {...}}``."""
    from pipeline.data import scores, sheet

    try:
        score_name = piece = None
        if c.kind == "sheet":
            piece = sheet.read_sheet(c)
            data, facts = piece.midi, dict(piece.facts)
        elif c.kind == "score":
            score, text = scores.parse_candidate(c)
            facts = scores.score_labels(score)
            data = scores.score_to_midi_bytes(score)
            if out_dir is not None:
                score_name = scores.keep_score(c, text, out_dir / "scores")
        else:
            try:
                data = Path(c.path).read_bytes()
            except OSError as e:
                raise Rejected("unreadable", str(e)) from None
            facts = None
        if data is None:  # an ABC-only sheet piece
            stats = sheet.abc_only_stats(piece.abc)
        else:
            stats = inspect_midi(data, limits).to_dict()
            facts = facts or midi_labels(data)
    except Rejected as r:
        return {
            "ok": False,
            "rejection": {
                "id": c.id,
                "source": c.source,
                "source_id": c.source_id,
                "reason": r.reason,
                "detail": r.detail,
            },
        }
    if out_dir is not None and data is not None:
        (out_dir / "midi").mkdir(parents=True, exist_ok=True)
        (out_dir / "midi" / f"{c.id}.mid").write_bytes(data)
    sheet_fields = {}
    if piece is not None:
        abc_path = sheet.keep_abc(c, piece.abc, out_dir / "abc") if out_dir is not None else f"abc/{c.id}.abc"
        sheet_fields = {
            "abc": abc_path,
            "abc_from": piece.abc_from,
            "abc_only": piece.abc_only,
            "prompt": sheet.prompt_labels(c.labels),
        }
    labels = dict(c.labels)
    composer = labels.pop("composer", None)
    score_composer = facts.pop("score_composer", None)
    if composer in (None, "auto"):
        composer = score_composer or "unknown"
    row = {
        "id": c.id,
        "source": c.source,
        "source_id": c.source_id,
        "midi": f"midi/{c.id}.mid" if data is not None else None,
        "score": f"scores/{score_name}" if score_name else None,
        "composer": str(composer).lower(),
        "period": str(labels.pop("period", "unknown")).lower(),
        "genre": str(labels.pop("genre", "unknown")).lower(),
        "collection": labels.pop("collection", c.source),
        "given_split": labels.pop("split", None),
        **{"n_parts": None, "key_mode": "unknown", "time_signature": "unknown"},
        **facts,
        **stats,
        **sheet_fields,
        "labels": labels,
    }
    return {"ok": True, "row": row}


def process_candidates(cands: list[Candidate], limits: IngestLimits, out_dir: Path | None) -> list[dict]:
    """``process_candidate`` over one shard (the ingest stage maps it as a Prefect task)."""
    return [process_candidate(c, limits, out_dir) for c in cands]


def midi_rows(index: list[dict]) -> tuple[list[dict], list[dict]]:
    """(rows with a MIDI file, skip records for ABC-only sheet pieces): what a MIDI stage reads,
    and what it lists as skipped rather than dropping silently."""
    kept = [r for r in index if r.get("midi")]
    skipped = [
        {"id": r["id"], "reason": "abc_only", "detail": r.get("abc_only") or "no MIDI"}
        for r in index
        if not r.get("midi")
    ]
    return kept, skipped


def judge_candidates(
    cands: list[Candidate],
    problems: list[ListingProblem],
    limits: IngestLimits,
    seed: int,
    split: SplitParams,
    out_dir: Path | None = None,
    process: Callable[..., list[dict]] = process_candidates,
) -> tuple[list[dict], list[dict], list[dict]]:
    """(index, rejected, duplicates): every candidate and listing problem lands in exactly one.
    ``process`` is ``process_candidates`` or a parallel map of it over shards."""
    results = process(cands, limits=limits, out_dir=out_dir)
    rows = [r["row"] for r in results if r["ok"]]
    rejected = [vars(x) | {"id": None} for x in problems] + [r["rejection"] for r in results if not r["ok"]]
    index, duplicates = finalize(rows, seed, split)
    return index, rejected, duplicates


def ingest_corpus(
    cands: list[Candidate],
    problems: list[ListingProblem],
    p: IngestParams,
    seed: int,
    data_dir: Path,
    report_dir: Path,
    process: Callable[..., list[dict]] = process_candidates,
) -> dict:
    """Write ``data_dir`` (midi/, scores/, index/rejected/duplicates.jsonl) and ``report_dir``
    (stats.json, summary.md, metrics.json); returns the metrics."""
    index, rejected, duplicates = judge_candidates(cands, problems, p.limits, seed, p.split, data_dir, process)
    for d in duplicates:  # keep only the first copy's files
        (data_dir / "midi" / f"{d['id']}.mid").unlink(missing_ok=True)
        (data_dir / "abc" / f"{d['id']}.abc").unlink(missing_ok=True)
        for s in (data_dir / "scores").glob(f"{d['id']}.*"):
            s.unlink()
    write_jsonl(index, data_dir / "index.jsonl")
    write_jsonl(rejected, data_dir / "rejected.jsonl")
    write_jsonl(duplicates, data_dir / "duplicates.jsonl")
    stats = summarize(index, rejected, duplicates)
    write_json(report_dir / "stats.json", stats)
    (report_dir / "summary.md").write_text(summary_markdown(stats))
    metrics = {k: stats[k] for k in METRICS}
    write_json(report_dir / "metrics.json", metrics)
    return metrics


def finalize(rows: list[dict], seed: int, split: SplitParams) -> tuple[list[dict], list[dict]]:
    """Dedup by note content (first in listing order wins) and assign splits."""
    kept: dict[str, dict] = {}
    duplicates = []
    for r in rows:
        h = r["content_hash"]
        if h in kept:
            duplicates.append({"id": r["id"], "source_id": r["source_id"], "duplicate_of": kept[h]["id"]})
            continue
        kept[h] = r
    index = []
    for r in kept.values():
        r = dict(r)
        r["split"] = assign_split(r["content_hash"], seed, split, r.pop("given_split"))
        index.append(r)
    return index, duplicates


def summarize(index: list[dict], rejected: list[dict], duplicates: list[dict]) -> dict:
    """Counts per label and split, hours, notes, rejections by reason."""
    per_split = Counter(r["split"] for r in index)
    by_label: dict[str, dict] = {}
    for field in ("composer", "period", "genre", "collection", "key_mode", "time_signature"):
        table: dict[str, Counter] = defaultdict(Counter)
        for r in index:
            table[str(r.get(field))][r["split"]] += 1
        by_label[field] = {k: dict(sorted(v.items())) for k, v in sorted(table.items())}
    return {
        "pieces": len(index),
        "splits": dict(sorted(per_split.items())),
        "hours": round(sum(r["duration_s"] or 0 for r in index) / 3600, 3),
        "notes": sum(r["n_notes"] or 0 for r in index),
        "abc_only": sum(1 for r in index if r.get("abc_only")),
        "rejected": len(rejected),
        "rejected_by_reason": dict(sorted(Counter(r["reason"] for r in rejected).items())),
        "duplicates": len(duplicates),
        "by_label": by_label,
    }


def summary_markdown(stats: dict) -> str:
    lines = [
        "# Data",
        "",
        f"- pieces: {stats['pieces']} ({stats['hours']} h, {stats['notes']} notes)",
        f"- splits: {stats['splits']}",
        f"- duplicates removed: {stats['duplicates']}",
        f"- rejected: {stats['rejected']} {stats['rejected_by_reason']}",
        "",
    ]
    for field in ("composer", "period", "genre"):
        lines += [f"## {field}", "", "| label | train | val | test |", "|---|---|---|---|"]
        for label, c in stats["by_label"][field].items():
            lines.append(f"| {label} | {c.get('train', 0)} | {c.get('val', 0)} | {c.get('test', 0)} |")
        lines.append("")
    return "\n".join(lines)
