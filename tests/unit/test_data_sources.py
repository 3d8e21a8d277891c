"""A user's MIDI folder: symlinks that leave it are path escapes, odd entries named like MIDI
files get a line in the rejection report, nothing is skipped silently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import midi_fixtures as fx
import pytest

from pipeline.commands.data import check
from pipeline.data.sources import list_midi_dir
from pipeline.params.data import IngestLimits, MidiDirSource

pytestmark = pytest.mark.unit
LIMITS = IngestLimits(min_notes=4, min_duration_s=0.1)


def user_folder(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    fx.long_piece(outside)  # a readable MIDI file the user folder must not reach
    (outside / "more").mkdir()
    fx.long_piece(outside / "more", n=60)
    root = tmp_path / "midis"
    (root / "sub").mkdir(parents=True)
    fx.long_piece(root)
    fx.long_piece(root / "sub", n=80)
    (root / "escape.mid").symlink_to(outside / "long_piece.mid")
    (root / "escape_dir").symlink_to(outside / "more", target_is_directory=True)
    (root / "inside_link.mid").symlink_to(root / "sub" / "long_piece.mid")  # stays inside: fine
    (root / "dangling.mid").symlink_to(root / "gone.mid")
    (root / "folder.mid").mkdir()
    fx.long_piece(root / "folder.mid", n=40)  # still read, on its own
    return root


def test_listing_reports_escapes_and_odd_entries(tmp_path):
    root = user_folder(tmp_path)
    cands, problems = list_midi_dir(MidiDirSource(name="mine", path=str(root)), tmp_path)
    assert sorted(c.source_id for c in cands) == [
        "folder.mid/long_piece.mid",
        "inside_link.mid",
        "long_piece.mid",
        "sub/long_piece.mid",
    ]
    assert all(Path(c.path).resolve().is_relative_to(root.resolve()) for c in cands)
    got = {p.source_id: (p.reason, p.detail) for p in problems}
    assert sorted(got) == ["dangling.mid", "escape.mid", "escape_dir", "folder.mid"]
    assert got["escape.mid"][0] == "path_escape" and "outside the data root" in got["escape.mid"][1]
    assert str((tmp_path / "outside" / "long_piece.mid").resolve()) in got["escape.mid"][1]
    assert got["escape_dir"][0] == "path_escape"
    assert got["folder.mid"][0] == "not_a_file" and "directory" in got["folder.mid"][1]
    assert got["dangling.mid"][0] == "missing_file" and "broken symlink" in got["dangling.mid"][1]


def test_metadata_pointing_through_an_escaping_symlink(tmp_path):
    root = user_folder(tmp_path)
    meta = root / "meta.csv"
    meta.write_text("path,composer\nlong_piece.mid,bach\nescape.mid,evil\n")
    cands, problems = list_midi_dir(MidiDirSource(name="mine", path=str(root), metadata=str(meta)), tmp_path)
    escapes = [p for p in problems if p.reason == "path_escape"]
    assert sorted(p.source_id for p in escapes) == ["escape.mid", "escape.mid", "escape_dir"]
    assert {c.source_id: c.labels for c in cands}["long_piece.mid"] == {"composer": "bach"}


def test_data_check_lists_every_rejection(tmp_path):
    root = user_folder(tmp_path)
    report = check(root, None, "auto", LIMITS)
    rejected = {r["file"]: r["reason"] for r in report["rejected"]}
    assert rejected == {
        "dangling.mid": "missing_file",
        "escape.mid": "path_escape",
        "escape_dir": "path_escape",
        "folder.mid": "not_a_file",
    }
    assert "outside" not in json.dumps(report["accepted"])
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "data", "check", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr
    assert "REJECT escape.mid: path_escape symlink to" in out.stdout
    assert "REJECT folder.mid: not_a_file" in out.stdout


def test_data_check_help_documents_exit_codes():
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "data", "check", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "exit codes: 0" in text.lower() and "1 " in text and "2 " in text
