"""Piano conditions: ``program: 0`` plays every part (program changes ignored) on a piano."""

import midi_fixtures as fx
import numpy as np
import pytest

from pipeline.data import render
from pipeline.data.render import RenderError, render_midi, resolve_soundfont
from pipeline.params.data import AcousticCondition

pytestmark = pytest.mark.unit


def two_parts(tmp_path, violin: bool):
    events = [fx.note(0, 480, 60, ch=0), fx.note(240, 960, 67, ch=1)]
    flat = [e for ev in events for e in ev] + ([fx.program(0, 40, 0), fx.program(0, 73, 1)] if violin else [])
    return fx.write(tmp_path / f"p{int(violin)}.mid", [flat]).read_bytes()


def test_program_forces_every_part_onto_a_piano(tmp_path):
    sf2 = resolve_soundfont("default", tmp_path)
    piano = AcousticCondition(gain=0.5, program=0)
    strings = render_midi(two_parts(tmp_path, True), piano, sf2, 16000, 5)
    plain = render_midi(two_parts(tmp_path, False), piano, sf2, 16000, 5)
    as_written = render_midi(two_parts(tmp_path, True), AcousticCondition(gain=0.5), sf2, 16000, 5)
    assert np.array_equal(strings, plain)  # the violin/flute program changes were ignored
    n = min(len(strings), len(as_written))
    assert np.abs(strings[:n] - as_written[:n]).mean() > 1e-4


def test_fluidr3_alias(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "FLUIDR3_PATHS", (str(tmp_path / "none.sf2"),))
    with pytest.raises(RenderError, match="fluid-soundfont-gm"):
        resolve_soundfont("fluidr3", tmp_path)
    (tmp_path / "FluidR3_GM.sf2").write_bytes(b"x")
    monkeypatch.setattr(render, "FLUIDR3_PATHS", (str(tmp_path / "FluidR3_GM.sf2"),))
    assert resolve_soundfont("fluidr3", tmp_path) == tmp_path / "FluidR3_GM.sf2"
