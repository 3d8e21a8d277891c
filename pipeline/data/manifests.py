"""lhotse manifests linking each recording to its MIDI and acoustic condition."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from lhotse import AudioSource, CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet


def recording(rec_id: str, rel_audio: str, sample_rate: int, num_samples: int) -> Recording:
    """Paths are relative to the repo root (stages run there), so the DVC cache stays portable."""
    return Recording(
        id=rec_id,
        sources=[AudioSource(type="file", channels=[0], source=rel_audio)],
        sampling_rate=sample_rate,
        num_samples=num_samples,
        duration=num_samples / sample_rate,
    )


def supervision(rec: Recording, custom: dict) -> SupervisionSegment:
    return SupervisionSegment(
        id=rec.id, recording_id=rec.id, start=0.0, duration=rec.duration, channel=0, custom=custom
    )


def write_manifests(recs: list[Recording], sups: list[SupervisionSegment], out_dir: Path) -> CutSet:
    rs, ss = RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups)
    cuts = CutSet.from_manifests(recordings=rs, supervisions=ss)
    write_manifest(rs, out_dir / "recordings.jsonl.gz")
    write_manifest(ss, out_dir / "supervisions.jsonl.gz")
    write_manifest(cuts, out_dir / "cuts.jsonl.gz")
    return cuts


def write_manifest(manifest, path: Path) -> None:
    """A lhotse manifest as JSONL.gz with a fixed gzip header (no time, no file name), so equal
    manifests give equal bytes on every run and machine (lhotse's ``to_file`` stamps the time)."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        for item in manifest.to_dicts():
            gz.write((json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8"))


def load_cuts(path: Path) -> CutSet:
    return CutSet.from_file(path).to_eager()
