"""Ingest: validation reasons, metadata readers, path escapes, dedup, splits, data check."""

import io
import json
import subprocess
import sys
from fractions import Fraction

import meter_fixtures as mf
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
    # the pickup, the 4/4 bars and the 3-beat last bar, in F# minor (see SIGNATURES below)
    assert signatures(mido.MidiFile(tmp_path / bach["midi"])) == [(0, "1/4"), (0, "F#m"), (480, "4/4"), (15840, "3/4")]


# hand-checked: (tick, numerator/denominator or key) of each ingest fixture's signatures at 480 tpq
SIGNATURES = {
    "waltz": [(0, "1/4"), (0, "G"), (480, "3/4"), (10560, "2/4")],  # 1-beat pickup, 2-beat last bar
    "jig": [(0, "1/8"), (0, "Dm"), (240, "6/8"), (10320, "5/8")],  # 1-eighth pickup, 5-eighth last bar
    "mixed": [(0, "4/4"), (1920, "3/4"), (3360, "6/8"), (3360, "Dm"), (4800, "2/4"), (5760, "5/4"), (8160, "4/4")],
}


def signatures(mid: mido.MidiFile) -> list[tuple[int, str]]:
    out = []
    for track in mid.tracks:
        tick = 0
        for m in track:
            tick += m.time
            if m.type == "time_signature":
                out.append((tick, f"{m.numerator}/{m.denominator}"))
            elif m.type == "key_signature":
                out.append((tick, m.key))
    return out


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_ingest_writer_keeps_time_and_key_signatures(name):
    from pipeline.data.scores import score_to_midi_bytes

    data = score_to_midi_bytes(mf.score(name))
    assert data == (mf.DATA / f"{name}.mid").read_bytes()  # the committed fixtures are this writer's
    mid = mido.MidiFile(file=io.BytesIO(data))
    assert signatures(mid) == SIGNATURES[name]
    last_note = max(sum(m.time for m in t) for t in mid.tracks[1:])
    assert sum(m.time for m in mid.tracks[0]) <= last_note  # no signature lengthens the file


def test_ingest_bars_stay_in_phase_with_the_score():
    """pretty_midi's downbeats (rebuilt from the signatures alone) fall on the score's barlines."""
    from music21 import stream

    from pipeline.data.segment import load_pm

    score = mf.score("mixed")
    bars = [float(m.offset) * 0.5 for m in score.getElementsByClass(stream.Measure)]  # 120 bpm
    assert load_pm(mf.DATA / "mixed.mid").get_downbeats().round(6).tolist() == bars
    waltz = [0.0] + [(1 + 3 * k) * 60 / 96 for k in range(8)]  # 96 bpm, 1-beat pickup, 3/4 bars
    assert load_pm(mf.DATA / "waltz.mid").get_downbeats()[:9].round(6).tolist() == [round(t, 6) for t in waltz]


def test_segment_carries_the_metre_and_key_in_force(tmp_path):
    from pipeline.data.segment import load_pm, slice_midi

    pm = load_pm(mf.DATA / "mixed.mid")  # 120 bpm: 3/4 at 2 s, 6/8 + Dm at 3.5 s, 2/4 at 5 s, 5/4 at 6 s
    seg = slice_midi(pm, 2.2, 6.0)
    seg.write(str(tmp_path / "seg.mid"))
    back = load_pm(tmp_path / "seg.mid")
    for p in (seg, back):
        assert [(t.numerator, t.denominator, round(t.time, 3)) for t in p.time_signature_changes] == [
            (3, 4, 0.0),
            (6, 8, 1.3),
            (2, 4, 2.8),
        ]
        assert [(k.key_number, round(k.time, 3)) for k in p.key_signature_changes] == [(14, 1.3)]  # D minor
    start = slice_midi(pm, 0.0, 1.0)
    assert [(t.numerator, t.denominator, t.time) for t in start.time_signature_changes] == [(4, 4, 0.0)]
    assert start.key_signature_changes == []
    bare = fx.write(tmp_path / "bare.mid", [fx.note(0, 960, 60) + fx.note(960, 1920, 62)])  # no signatures
    assert slice_midi(load_pm(bare), 0.5, 1.5).time_signature_changes == []  # pretty_midi writes its 4/4


@pytest.mark.parametrize(
    "length, nominal, expected",
    [
        (Fraction(3), (3, 4), (3, 4)),
        (Fraction(1), (3, 4), (1, 4)),  # a 1-beat pickup
        (Fraction(1, 2), (6, 8), (1, 8)),
        (Fraction(5, 2), (6, 8), (5, 8)),
        (Fraction(2), (4, 2), (1, 2)),  # never finer than the nominal denominator needs
        (Fraction(3, 4), (2, 4), (3, 16)),
        (Fraction(1, 3), (3, 4), (3, 4)),  # a triplet's length has no MIDI spelling: nominal kept
        (Fraction(0), (3, 4), (3, 4)),
    ],
)
def test_bar_length_spelled_as_a_signature(length, nominal, expected):
    from pipeline.data.score_meters import _as_signature

    assert _as_signature(length, nominal) == expected


def test_key_names_for_mido():
    from pipeline.data.score_meters import key_name

    assert [key_name(3, "minor"), key_name(-2, "major"), key_name(-7, None), key_name(0, "dorian")] == [
        "F#m",
        "Bb",
        "Cb",
        "C",
    ]
    assert key_name(8, None) is None
