"""Ingest: validation reasons, metadata readers, path escapes, dedup, splits, data check."""

import json
import subprocess
import sys

import midi_fixtures as fx
import mido
import pytest

from pipeline.commands.data import check
from pipeline.data.ingest import finalize, process_candidate
from pipeline.data.metadata import MetadataError, read_metadata, resolve_inside
from pipeline.data.midi import Rejected, inspect_midi
from pipeline.data.sources import list_midi_dir
from pipeline.data.splits import assign_split
from pipeline.params.data import IngestLimits, MidiDirSource, SplitParams

pytestmark = pytest.mark.unit
LIMITS = IngestLimits(min_notes=4, min_duration_s=0.1)


def reason(data: bytes, limits=LIMITS) -> str:
    with pytest.raises(Rejected) as e:
        inspect_midi(data, limits)
    return e.value.reason


def absurd_tempo(d):
    return fx.write(
        d / "absurd.mid",
        [
            [fx.tempo(0, 1)]
            + fx.note(0, 100, 60) * 1
            + fx.note(100, 200, 62)
            + fx.note(200, 300, 64)
            + fx.note(300, 400, 65)
        ],
    )


def many_tempos(d, n=50):
    ev = [fx.tempo(i * 10, 500_000) for i in range(n)]
    for i in range(8):
        ev += fx.note(i * 100, i * 100 + 50, 60 + i)
    return fx.write(d / "tempos.mid", [ev])


def test_good_file_stats(tmp_path):
    s = inspect_midi(fx.long_piece(tmp_path).read_bytes(), LIMITS)
    assert s.n_notes == 120 and s.duration_s > 29 and len(s.content_hash) == 20


@pytest.mark.parametrize(
    "builder,expected",
    [
        (fx.truncated, "unreadable"),
        (fx.bad_header, "unreadable"),
        (fx.empty, "no_notes"),
        (absurd_tempo, "absurd_tempo"),
    ],
)
def test_corrupt_files_get_reasons(tmp_path, builder, expected):
    assert reason(builder(tmp_path).read_bytes()) == expected


def test_limits_from_params(tmp_path):
    data = many_tempos(tmp_path).read_bytes()
    assert reason(data, IngestLimits(max_tempo_events=10, min_notes=1)) == "too_many_tempo_events"
    assert reason(fx.long_piece(tmp_path).read_bytes(), IngestLimits(max_notes=50)) == "too_many_notes"
    assert reason(fx.long_piece(tmp_path).read_bytes(), IngestLimits(max_duration_s=5)) == "too_long"


def test_content_hash_ignores_file_layout(tmp_path):
    a = fx.write(tmp_path / "a.mid", [fx.note(0, 480, 60) + fx.note(480, 960, 64)], tpb=480)
    b = fx.write(tmp_path / "b.mid", [fx.note(0, 96, 60), fx.note(96, 192, 64)], tpb=96)
    ha = inspect_midi(a.read_bytes(), IngestLimits(min_notes=1)).content_hash
    hb = inspect_midi(b.read_bytes(), IngestLimits(min_notes=1)).content_hash
    assert ha == hb


def test_path_escape_is_rejected(tmp_path):
    root = tmp_path / "midis"
    root.mkdir()
    fx.long_piece(root)
    (tmp_path / "secret.mid").write_bytes(b"x")
    with pytest.raises(MetadataError, match="escapes"):
        resolve_inside(root.resolve(), "../secret.mid")
    with pytest.raises(MetadataError, match="relative"):
        resolve_inside(root.resolve(), "/etc/passwd")
    meta = root / "meta.csv"
    meta.write_text("path,composer\nlong_piece.mid,bach\n../secret.mid,evil\n")
    cands, problems = list_midi_dir(MidiDirSource(path=str(root), metadata=str(meta)), tmp_path)
    assert [c.labels for c in cands] == [{"composer": "bach"}]
    assert [(p.source_id, p.reason) for p in problems] == [("../secret.mid", "path_escape")]


def test_metadata_formats(tmp_path):
    (tmp_path / "maestro.csv").write_text(
        "canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration\n"
        "Frédéric Chopin,Ballade,validation,2018,2018/a.midi,2018/a.wav,100\n"
    )
    (tmp_path / "atepp.csv").write_text(
        "artist,artist_id,track,composer,midi_path,split\nGlenn Gould,1,Aria,Bach,gould/aria.mid,test\n"
    )
    (tmp_path / "metadata.json").write_text(
        json.dumps(
            {
                "genre": {"train": {"x/a.mid": "jazz"}, "test": {"x/b.mid": "classical"}},
                "composer": {"train": {"x/a.mid": "chopin"}},
            }
        )
    )
    (tmp_path / "t.jsonl").write_text('{"file": "a.mid", "mood": "calm"}\n')
    assert read_metadata(tmp_path / "maestro.csv") == [
        (
            "2018/a.midi",
            {
                "composer": "Frédéric Chopin",
                "title": "Ballade",
                "split": "val",
                "year": "2018",
                "audio_filename": "2018/a.wav",
                "duration": "100",
            },
        )
    ]
    assert read_metadata(tmp_path / "atepp.csv")[0] == (
        "gould/aria.mid",
        {"performer": "Glenn Gould", "artist_id": "1", "title": "Aria", "composer": "Bach", "split": "test"},
    )
    aria = dict(read_metadata(tmp_path / "metadata.json"))
    assert aria["x/a.mid"] == {"genre": "jazz", "composer": "chopin", "split": "train"}
    assert aria["x/b.mid"] == {"genre": "classical", "split": "test"}
    assert read_metadata(tmp_path / "t.jsonl") == [("a.mid", {"mood": "calm"})]
    (tmp_path / "bad.csv").write_text("name,composer\nx,y\n")
    with pytest.raises(MetadataError, match="no path column"):
        read_metadata(tmp_path / "bad.csv")


def test_dedup_and_splits(tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    fx.long_piece(root)
    (root / "copy.mid").write_bytes((root / "long_piece.mid").read_bytes())
    fx.tempo_changes(root)
    meta = root / "meta.csv"
    meta.write_text("path,split\ntempo_changes.mid,test\n")
    cands, _ = list_midi_dir(MidiDirSource(path=str(root), metadata=str(meta)), tmp_path)
    rows = [process_candidate(c, IngestLimits(min_notes=1, min_duration_s=0), tmp_path / "out")["row"] for c in cands]
    index, dups = finalize(rows, seed=1, split=SplitParams())
    assert len(index) == 2 and dups == [
        {"id": "user-long_piece", "source_id": "long_piece.mid", "duplicate_of": "user-copy"}
    ]
    assert {r["id"]: r["split"] for r in index}["user-tempo_changes"] == "test"  # metadata wins
    again, _ = finalize(rows, seed=1, split=SplitParams())
    assert [r["split"] for r in again] == [r["split"] for r in index]  # deterministic


def test_hash_splits_follow_fractions():
    splits = [assign_split(f"h{i}", 7, SplitParams(val=0.2, test=0.1)) for i in range(4000)]
    assert abs(splits.count("val") / 4000 - 0.2) < 0.03
    assert abs(splits.count("test") / 4000 - 0.1) < 0.03
    assert splits != [assign_split(f"h{i}", 8, SplitParams(val=0.2, test=0.1)) for i in range(4000)]


def test_data_check_cli(tmp_path):
    fx.long_piece(tmp_path)
    fx.truncated(tmp_path)  # also writes long_piece.mid (same content) first
    fx.empty(tmp_path)
    report = check(tmp_path, None, "auto", LIMITS)
    assert [a["file"] for a in report["accepted"]] == ["long_piece.mid"]
    assert sorted((r["file"], r["reason"]) for r in report["rejected"]) == [
        ("empty.mid", "no_notes"),
        ("truncated.mid", "unreadable"),
    ]
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "data", "check", str(tmp_path), "--json"], capture_output=True, text=True
    )
    assert out.returncode == 1  # rejections make the check fail, for scripts
    assert len(json.loads(out.stdout)["rejected"]) == 2


def test_music21_candidate_becomes_row(tmp_path):
    from pipeline.data.sources import list_music21
    from pipeline.params.data import Music21Source

    src = Music21Source(
        collections={
            "bach": {
                "composer": "bach",
                "period": "baroque",
                "genre": "chorale",
                "paths": ["bach/bwv66.6.mxl"],
                "cap": 1,
            },
            "folk": {
                "composer": "traditional",
                "period": "folk",
                "genre": "folk_song",
                "paths": ["essenFolksong/altdeu10.abc"],
                "cap": 1,
            },
        }
    )
    cands = list_music21(src)
    assert len(cands) == 2 and cands[1].tune is not None
    rows = [process_candidate(c, IngestLimits(), tmp_path)["row"] for c in cands]
    bach, folk = rows
    assert (bach["composer"], bach["period"], bach["n_parts"], bach["time_signature"]) == ("bach", "baroque", 4, "4/4")
    assert bach["key_mode"] in ("major", "minor") and bach["score"].endswith(".mxl")
    assert folk["score"].endswith(".abc") and (tmp_path / folk["score"]).read_text().startswith("X:")
    assert mido.MidiFile(tmp_path / bach["midi"]).length > 10
