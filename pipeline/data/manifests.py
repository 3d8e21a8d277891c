"""lhotse manifests linking each recording to its MIDI and acoustic condition."""

from __future__ import annotations

from pathlib import Path

from lhotse import AudioSource, CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet


def recording(rec_id: str, rel_audio: str, sample_rate: int, num_samples: int) -> Recording:
    """Paths are relative to the repo root (stages run there), so the DVC cache stays portable."""
    return Recording(id=rec_id, sources=[AudioSource(type="file", channels=[0], source=rel_audio)],
                     sampling_rate=sample_rate, num_samples=num_samples,
                     duration=num_samples / sample_rate)


def supervision(rec: Recording, custom: dict) -> SupervisionSegment:
    return SupervisionSegment(id=rec.id, recording_id=rec.id, start=0.0, duration=rec.duration,
                              channel=0, custom=custom)


def write_manifests(recs: list[Recording], sups: list[SupervisionSegment], out_dir: Path) -> CutSet:
    rs, ss = RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups)
    cuts = CutSet.from_manifests(recordings=rs, supervisions=ss)
    rs.to_file(out_dir / "recordings.jsonl.gz")
    ss.to_file(out_dir / "supervisions.jsonl.gz")
    cuts.to_file(out_dir / "cuts.jsonl.gz")
    return cuts


def load_cuts(path: Path) -> CutSet:
    return CutSet.from_file(path).to_eager()
