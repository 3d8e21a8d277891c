"""Real recordings paired with MIDI (``render_audio.real_recordings``): the manifest's split column
is kept (MAESTRO's ``validation`` included), rows without one are split by their id, and a split
nobody knows is refused naming the row."""

import json

import pytest

from pipeline.data.metadata import MetadataError
from pipeline.data.recordings import read_pairs
from pipeline.data.render_corpus import plan_renders
from pipeline.params.data import RenderAudioParams

pytestmark = pytest.mark.unit


def params(path):
    return RenderAudioParams(conditions={"real": {"soundfont": "default"}}, real_recordings=path.name)


def manifest(tmp_path, rows):
    for r in rows:
        (tmp_path / r["audio"]).write_bytes(b"")
        (tmp_path / r["midi"]).write_bytes(b"")
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_split_column_is_kept_and_missing_ones_are_hashed(tmp_path):
    rows = [{"audio": f"r{i}.wav", "midi": f"r{i}.mid"} for i in range(40)]
    rows[0]["split"], rows[1]["split"], rows[2]["split"] = "test", "validation", "train"
    path = manifest(tmp_path, rows)
    jobs = plan_renders(params(path), tmp_path)
    splits = [j["split"] for j in jobs]
    assert splits[:3] == ["test", "val", "train"]
    assert {"train", "test"} <= set(splits[3:])  # not every pair in train: held-out stages get recordings
    assert splits == [j["split"] for j in plan_renders(params(path), tmp_path)]


def test_unknown_split_names_the_row(tmp_path):
    path = manifest(tmp_path, [{"audio": "a.wav", "midi": "a.mid", "split": "dev-set"}])
    with pytest.raises(MetadataError, match=r"pairs.jsonl: row 1: unknown split 'dev-set'"):
        read_pairs(path)
