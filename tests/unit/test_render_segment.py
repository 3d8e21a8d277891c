"""FluidSynth rendering under acoustic conditions, lhotse manifests, MIDI-aligned segments."""

import midi_fixtures as fx
import numpy as np
import pretty_midi
import pytest

from pipeline.data.manifests import load_cuts, recording, supervision, write_manifests
from pipeline.data.render import RenderError, render_midi, resolve_soundfont
from pipeline.data.segment import segment_bounds, slice_midi
from pipeline.params.data import AcousticCondition, SegmentParams

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def sf2(tmp_path_factory):
    return resolve_soundfont("default", tmp_path_factory.mktemp("x"))


def test_render_is_real_audio_and_conditions_differ(tmp_path, sf2):
    data = fx.long_piece(tmp_path, n=20).read_bytes()
    dry = render_midi(data, AcousticCondition(gain=0.5), sf2, 32000, 30)
    hall = render_midi(data, AcousticCondition(gain=0.5, reverb=0.8, room_size=0.9, chorus=True), sf2, 32000, 30)
    assert dry.dtype == np.float32 and abs(len(dry) / 32000 - (20 * 0.25 + 1.0)) < 0.3
    assert np.sqrt((dry**2).mean()) > 1e-3  # not silence
    n = min(len(dry), len(hall))
    assert np.abs(dry[:n] - hall[:n]).mean() > 1e-4  # the condition changes the sound
    again = render_midi(data, AcousticCondition(gain=0.5), sf2, 32000, 30)
    assert np.array_equal(dry, again)  # deterministic


def test_render_respects_max_seconds(tmp_path, sf2):
    audio = render_midi(fx.long_piece(tmp_path).read_bytes(), AcousticCondition(), sf2, 16000, 5.0)
    assert len(audio) / 16000 == pytest.approx(6.0, abs=0.05)  # 5 s + the release tail


def test_missing_soundfont_says_how_to_fix(tmp_path):
    with pytest.raises(RenderError, match="soundfont 'nope.sf2' not found"):
        resolve_soundfont("nope.sf2", tmp_path)


def test_segment_bounds():
    p = SegmentParams(min_s=15, max_s=20, drop_under_s=3)
    b = segment_bounds(100.0, p, seed=1, key="r1")
    assert b[0][0] == 0 and b[-1][1] == pytest.approx(100.0)
    assert all(15 <= e - s <= 20 for s, e in b[:-1])
    assert b == segment_bounds(100.0, p, seed=1, key="r1") != segment_bounds(100.0, p, seed=2, key="r1")


def test_slice_midi_clips_and_shifts(tmp_path):
    pm = pretty_midi.PrettyMIDI(str(fx.long_piece(tmp_path, n=40)))  # notes every 0.25 s, 0.2 s long
    part = slice_midi(pm, 2.1, 4.0)
    notes = part.instruments[0].notes
    assert notes[0].start == 0.0 and notes[0].end == pytest.approx(0.1)  # clipped note sounding at 2.1
    assert all(0 <= n.start < 1.9 and n.end <= 1.9 + 1e-9 for n in notes)
    assert len(notes) == 8


def test_manifests_link_audio_and_midi(tmp_path):
    import soundfile as sf

    audio = tmp_path / "a.flac"
    sf.write(audio, np.zeros(16000, dtype=np.float32), 16000)
    rec = recording("p1__dry", str(audio), 16000, 16000)
    write_manifests([rec], [supervision(rec, {"midi": "m.mid", "condition": "dry"})], tmp_path)
    cut = next(iter(load_cuts(tmp_path / "cuts.jsonl.gz")))
    assert cut.recording_id == "p1__dry" and cut.supervisions[0].custom["midi"] == "m.mid"
    assert cut.load_audio().shape == (1, 16000)
