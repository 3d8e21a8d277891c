"""Structureness indicator against MusDr's own code (``data/structureness``; ``make.py`` there reruns it)."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.eval.structureness import (
    StructurenessError,
    chroma_features,
    fitness_scape_plot,
    self_similarity,
    structure_indicator,
    structureness,
)

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

DATA = Path(__file__).parent / "data" / "structureness"
UPSTREAM = json.loads((DATA / "upstream.json").read_text())


@pytest.mark.parametrize("name", ["aabaa", "random"])
def test_matches_musdr(name):
    want = UPSTREAM[name]
    ssm = self_similarity(chroma_features(*sf.read(DATA / f"{name}.flac", dtype="float32")))
    assert ssm.shape == (want["frames"], want["frames"])
    np.testing.assert_allclose(ssm[0], want["ssm_row0"], rtol=1e-6, atol=1e-9)
    assert ssm.sum() == pytest.approx(want["ssm_sum"], rel=1e-7)
    plot = fitness_scape_plot(ssm)
    assert plot.sum() == pytest.approx(want["fitness_sum"], rel=1e-7)
    got = {
        k: structure_indicator(plot, lo, hi)
        for k, (lo, hi) in {"short": (3, 8), "mid": (8, 15), "long": (15, 128)}.items()
    }
    assert got == pytest.approx(want["si"], rel=1e-7, abs=1e-12)


def test_repetition_scores_higher_and_bad_audio():
    rep = structureness(*sf.read(DATA / "aabaa.flac", dtype="float32"))
    rnd = structureness(*sf.read(DATA / "random.flac", dtype="float32"))
    assert rep["short"] > 2 * rnd["short"] and rnd["long"] == 0.0
    assert structureness(np.zeros(4000, np.float32), 4000) == {"short": 0.0, "mid": 0.0, "long": 0.0}
    with pytest.raises(StructurenessError):
        structureness(np.array([np.nan], np.float32), 4000)
