"""The segment stage's work: each rendered recording cut into aligned MIDI + audio segments
(``pipeline.data.segment``), written as a lhotse CutSet whose cuts carry their MIDI segment."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from lhotse import CutSet

from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.manifests import write_manifest
from pipeline.data.segment import load_pm, segment_bounds, slice_midi
from pipeline.params.data import SegmentParams

OUT = "data/segment"  # the index names MIDI segments by repo-relative paths under it
CUTS = "data/render_audio/cuts.jsonl.gz"


def segment_recordings(recs: list[dict], p: SegmentParams, seed: int, out_dir: Path, root: Path) -> list[dict]:
    """One shard of recordings (``{"id", "duration", "midi", ...}``) -> one result per segment:
    kept (its MIDI written to ``out_dir/midi/``) or dropped with a reason."""
    results = []
    for c in recs:
        pm = load_pm(root / c["midi"])
        for k, (start, end) in enumerate(segment_bounds(c["duration"], p, seed, c["id"])):
            seg_id = f"{c['id']}-{k:03d}"
            base = {"id": seg_id, "recording_id": c["id"], "start": start, "duration": round(end - start, 3)}
            if end - start < p.drop_under_s:
                results.append({**base, "ok": False, "reason": f"shorter than {p.drop_under_s} s"})
                continue
            part = slice_midi(pm, start, end)
            n_notes = sum(len(i.notes) for i in part.instruments)
            if n_notes == 0:
                results.append({**base, "ok": False, "reason": "no notes in the window"})
                continue
            part.write(str(out_dir / "midi" / f"{seg_id}.mid"))
            results.append(
                {
                    **base,
                    "ok": True,
                    "n_notes": n_notes,
                    "midi": f"{OUT}/midi/{seg_id}.mid",
                    "piece_id": c["piece_id"],
                    "condition": c["condition"],
                    "split": c["split"],
                }
            )
    return results


def segment_corpus(
    cuts: CutSet,
    p: SegmentParams,
    seed: int,
    out_dir: Path,
    root: Path,
    segment: Callable[..., list[dict]] = segment_recordings,
) -> dict:
    """Write ``out_dir`` (cuts.jsonl.gz, midi/, index.jsonl, dropped.jsonl, stats.json); returns the
    stats. ``segment`` is ``segment_recordings`` or a parallel map of it over shards."""
    by_rec = {c.recording_id: c for c in cuts}
    recs = [{"id": c.recording_id, "duration": c.duration, **c.supervisions[0].custom} for c in cuts]
    (out_dir / "midi").mkdir()
    results = segment(recs, p=p, seed=seed, out_dir=out_dir, root=root)
    kept = [r for r in results if r["ok"]]
    segs = []
    for r in kept:
        cut = by_rec[r["recording_id"]].truncate(
            offset=r["start"], duration=r["duration"], keep_excessive_supervisions=False
        )
        cut.id = r["id"]
        cut.custom = {k: r[k] for k in ("midi", "piece_id", "condition", "split")}
        segs.append(cut)
    write_manifest(CutSet.from_cuts(segs), out_dir / "cuts.jsonl.gz")
    write_jsonl([{k: v for k, v in r.items() if k != "ok"} for r in kept], out_dir / "index.jsonl")
    write_jsonl([r for r in results if not r["ok"]], out_dir / "dropped.jsonl")
    stats = {
        "segments": len(kept),
        "dropped": len(results) - len(kept),
        "hours": round(sum(r["duration"] for r in kept) / 3600, 4),
    }
    write_json(out_dir / "stats.json", stats)
    return stats
