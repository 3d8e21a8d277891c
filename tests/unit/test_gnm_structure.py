"""GnM's SI columns: real pieces rendered as gnm_generate renders, generated pieces from their audio."""

import json

import numpy as np
import pytest
import soundfile as sf

from pipeline.gnm.evaluate import objective_metrics
from pipeline.gnm.structure import generated_si, real_si
from pipeline.params.gnm import GnmGenerateParams

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]


def bars(pitches_per_bar: list[list[int]]) -> list[str]:
    events = ["Composer_Bach", "Tempo_120", "BOS_None"]
    for pitches in pitches_per_bar:
        events += ["Bar_None", "Time_Signature_4/4"]
        for k, p in enumerate(pitches):
            events += [f"Beat_{12 * k}", f"Note_Pitch_{p}", "Note_Duration_240"]
    return events + ["EOS_None"]


@pytest.fixture
def gen_dir(tmp_path):
    params = GnmGenerateParams(max_seconds=20.0).model_dump(mode="json")
    (tmp_path / "manifest.json").write_text(json.dumps({"params": {"gnm_generate": params}}))
    return tmp_path


def test_real_pieces_rendered_and_repetition_shows(gen_dir):
    phrase = [[60, 64, 67, 72], [71, 67, 62, 59], [60, 65, 69, 72], [67, 64, 60, 55]]
    rng = np.random.default_rng(0)
    random = [list(rng.integers(48, 84, 4)) for _ in range(16)]
    rep, rnd = real_si([bars(phrase * 4), bars(random)], gen_dir)
    assert set(rep) == {"short", "mid", "long"} and rep["short"] > rnd["short"]
    obj = objective_metrics(
        {"mastery": [{"pce": 2.0, "gs": 0.9, "si": rep}, {"pce": 3.0, "gs": 0.8, "si": None}]},
        [bars(phrase * 4)],
        [rep],
    )
    assert obj["mastery"]["si_short"] == round(rep["short"], 4) and obj["mastery"]["pieces"] == 2
    assert obj["real (held-out)"]["si_mid"] == round(rep["mid"], 4)


def test_generated_audio_and_bad_manifest(gen_dir, tmp_path):
    assert generated_si(gen_dir, {"audio": None}) is None
    sr = 8000
    t = np.arange(6 * sr) / sr
    sf.write(gen_dir / "a.flac", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    assert set(generated_si(gen_dir, {"audio": "a.flac"})) == {"short", "mid", "long"}
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ValueError, match="manifest.json"):
        real_si([bars([[60]])], tmp_path)
