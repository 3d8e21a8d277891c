"""The parts of ``ostinato demo`` below the page (the page itself: tests/e2e/test_demo_browser.py):
child jobs and their error lines, progress bars kept to one line, the tabs' command lines and
upload checks, the default VALL-E prompt cut from the DAG's data, and the loopback guard."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.cli import main
from pipeline.demo import aria_tab, gnm_tab, notagen_tab, valle_tab
from pipeline.demo.fields import check_midi, seed_args
from pipeline.demo.jobs import JobError, _add, run_cli
from pipeline.demo.sources import Sources, default_prompt, resolve

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    models = {f: tmp_path / "models" / f for f in ("aria", "gnm", "notagen", "valle", "codec")}
    return Sources(models, device="cpu")


@pytest.fixture
def midi(tmp_path: Path) -> Path:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes.append(pretty_midi.Note(velocity=80, pitch=60, start=0.0, end=0.5))
    pm.instruments.append(piano)
    pm.write(str(tmp_path / "take.mid"))
    return tmp_path / "take.mid"


def test_a_failing_job_raises_the_cli_error_line(tmp_path: Path):
    with pytest.raises(JobError, match=r"^ostinato data: error: .*nowhere: no such file"):
        for _ in run_cli(["data", "check", str(tmp_path / "nowhere")], "t:data", REPO):
            pass


def test_a_job_streams_its_command_and_output():
    seen = list(run_cli(["params", "check", "--help"], "t:params", REPO))[-1]
    assert seen[0] == "$ ostinato params check --help" and any("--profile" in x for x in seen)


def test_a_progress_bar_updates_in_place():
    seen = ["$ ostinato generate"]
    for line in ("generate:  10%|#  | 1/10", "generate:  50%|#####  | 5/10", "wrote x.mid", "synth:  5%|  | 1/20"):
        _add(seen, line)
    assert seen == ["$ ostinato generate", "generate:  50%|#####  | 5/10", "wrote x.mid", "synth:  5%|  | 1/20"]


def test_seed_and_midi_checks_name_the_problem(tmp_path: Path, midi: Path):
    assert seed_args("") == [] and seed_args(" 7 ") == ["--seed", "7"]
    with pytest.raises(ValueError, match="seed must be a whole number, got 'x1'"):
        seed_args("x1")
    bad = tmp_path / "song.mid"
    bad.write_text("not midi")
    with pytest.raises(ValueError, match=r"^song.mid: not a MIDI file"):
        check_midi(bad)
    check_midi(midi)


def test_tabs_build_the_cli_command_lines(sources: Sources, midi: Path, tmp_path: Path):
    out = tmp_path / "out"
    a = aria_tab.argv(sources, out, str(midi), 5.0, 64, 0.9, "3")
    assert a[:3] == ["generate", "--family", "aria"] and a[a.index("--prompt-midi") + 1] == str(midi)
    assert a[-4:] == ["--seed", "3", "--device", "cpu"] and "--length" in a and "64" in a
    assert "--prompt-midi" not in aria_tab.argv(sources, out, None, 5.0, 64, 0.9, "")
    g = gnm_tab.argv(sources, out, "Bach", 8, 300, 1.1, "")
    assert g[g.index("--composer") + 1] == "Bach" and g[g.index("--max-bars") + 1] == "8"
    assert "--vocab" not in g  # our model directory holds its vocab.json
    upstream = tmp_path / "gnm" / "finetuned.pt"
    upstream.parent.mkdir()
    upstream.write_bytes(b"")
    sources.models["gnm"] = upstream
    with pytest.raises(FileNotFoundError, match="finetuned.pt: an upstream GnM checkpoint needs dictionary.pkl"):
        gnm_tab.argv(sources, out, "Bach", 8, 300, 1.1, "")
    (upstream.parent / "dictionary.pkl").write_bytes(b"")
    g = gnm_tab.argv(sources, out, "Bach", 8, 300, 1.1, "")
    assert g[g.index("--vocab") + 1] == str(upstream.parent / "dictionary.pkl")
    n = notagen_tab.argv(sources, out, "Baroque / Bach, Johann Sebastian / Keyboard", 4096, 1.2, "")
    assert n[n.index("--composer") + 1] == "Bach, Johann Sebastian" and "--no-audio" in n
    with pytest.raises(ValueError, match="choose a period / composer / instrumentation"):
        notagen_tab.argv(sources, out, None, 4096, 1.2, "")


def test_the_valle_tab_names_what_is_missing(sources: Sources, midi: Path, tmp_path: Path):
    with pytest.raises(ValueError, match=r"no valle model at .*models/valle: .*--valle PATH"):
        valle_tab.argv(sources, tmp_path / "out", str(midi), None, None, "")
    for f in ("valle", "codec"):
        sources.models[f].mkdir(parents=True)
    with pytest.raises(ValueError, match="upload both the prompt recording and its MIDI"):
        valle_tab.argv(sources, tmp_path / "out", str(midi), str(midi), None, "")
    wav = tmp_path / "take.wav"
    wav.write_bytes(b"RIFF0000")
    with pytest.raises(ValueError, match=r"^take.wav: not a readable audio file"):
        valle_tab.argv(sources, tmp_path / "out", str(midi), str(wav), str(midi), "")
    sf.write(str(wav), np.zeros(1600, np.float32), 16000)
    v = valle_tab.argv(sources, tmp_path / "out", str(midi), str(wav), str(midi), "1")
    assert v[0] == "synthesize" and v[1] == str(tmp_path / "out/take.mid") and v[-2:] == ["--seed", "1"]
    assert v[v.index("--out") + 1].endswith("take.valle.wav")


def test_the_default_prompt_is_the_head_of_a_rendered_recording(tmp_path: Path, midi: Path):
    data = tmp_path / "data"
    (data / "segment/midi").mkdir(parents=True)
    (data / "render_audio/audio").mkdir(parents=True)
    sf.write(str(data / "render_audio/audio/r.flac"), np.ones(16000 * 3, np.float32) * 0.1, 16000)
    (data / "segment/midi/r-000.mid").write_bytes(midi.read_bytes())
    rows = [
        {"recording_id": "r", "start": 4.0, "duration": 2.0, "midi": "data/segment/midi/r-001.mid"},
        {"recording_id": "r", "start": 0.0, "duration": 1.5, "midi": "data/segment/midi/r-000.mid"},
    ]
    (data / "segment/index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with gzip.open(data / "render_audio/recordings.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"id": "r", "sources": [{"source": "data/render_audio/audio/r.flac"}]}) + "\n")
    wav, prompt_midi = default_prompt(data, tmp_path / "work")
    assert sf.info(str(wav)).frames == 24000 and prompt_midi == data / "segment/midi/r-000.mid"
    assert default_prompt(tmp_path / "nodata", tmp_path / "work") is None
    src = resolve(tmp_path / "models", {}, data, tmp_path / "work")
    assert src.prompt_wav == wav and not src.valle_ready()  # no VALL-E model under models/
    with pytest.raises(ValueError, match="give both --prompt-wav and --prompt-midi"):
        resolve(tmp_path / "models", {"prompt_wav": wav}, data, tmp_path / "work")


def test_demo_refuses_a_public_address_without_allow_remote(capsys):
    assert main(["demo", "--host", "0.0.0.0"]) == 2
    assert "ostinato demo: error: --host 0.0.0.0 is not a loopback address" in capsys.readouterr().err


def test_a_family_without_a_model_keeps_its_tab_with_what_to_do(sources: Sources, tmp_path: Path):
    pytest.importorskip("gradio", reason="the demo extra is not installed")
    from pipeline.demo import page

    (sources.models["gnm"]).mkdir(parents=True)
    (sources.models["gnm"] / "vocab.json").write_text(json.dumps({"tokens": ["Composer_Bach", "Composer_None"]}))
    config = page.build(sources, tmp_path / "work", tmp_path).get_config_file()
    texts = [c["props"].get("value") for c in config["components"] if c["type"] == "markdown"]
    assert any(t and t.startswith("no aria model at ") and "--aria PATH" in t for t in texts), texts
    ids = {c["props"].get("elem_id") for c in config["components"]}
    assert {"gnm-go", "gnm-cancel", "gnm-status", "gnm-files"} <= ids and "aria-go" not in ids
    composers = next(c["props"]["choices"] for c in config["components"] if c["props"].get("elem_id") == "gnm-composer")
    assert [c[0] for c in composers] == ["Bach"]
