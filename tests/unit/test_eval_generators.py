"""The cross-generator evaluation: the samples contract (families write it, the eval layer reads
it), the table over contracts with the ceiling and sanity rows, and the report section it leads
with. Real chorales of music21's corpus, a rendered ABC tune, a tiny seeded CLaMP (no weights)."""

import json
from pathlib import Path

import pytest
import soundfile as sf

from pipeline.eval.generator_table import Scorer, best_and_separation, generator_table, held_out_midi
from pipeline.eval.metric_table import TableConfig
from pipeline.eval.samples_contract import read_contract, write_contract
from pipeline.eval.table_writer import markdown

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TUNE = """X:1
L:1/8
M:4/4
K:G
V:1
V:2 clef=bass
[V:1]d2 fe dc B2|[V:2]G,,2 B,,2 D,2 G,2|
[V:1]B2 A2 G4|[V:2]G,2 D,2 G,,4|
[V:1]G8|][V:2]G,,8|]
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A repo-shaped folder: data/ingest (8 held-out chorales, 2 train), two families' reports."""
    from clamp_tiny import save_tiny_scorer
    from music21 import converter, corpus

    from pipeline.data.jsonl import write_jsonl
    from pipeline.data.scores import score_to_midi_bytes
    from pipeline.notagen.render import to_score
    from pipeline.notagen.render import write_midi as abc_to_midi

    root = tmp_path_factory.mktemp("repo")
    paths = sorted(p for p in corpus.getComposer("bach") if p.suffix == ".mxl")[:13]
    (root / "data/ingest/midi").mkdir(parents=True)
    gen = root / "reports/midi_family"
    gen.mkdir(parents=True)
    rows = []
    for i, p in enumerate(paths):
        midi = score_to_midi_bytes(converter.parse(p))
        if i < 10:
            (root / f"data/ingest/midi/{p.stem}.mid").write_bytes(midi)
            rows.append({"id": p.stem, "midi": f"midi/{p.stem}.mid", "split": "test" if i < 8 else "train"})
        else:
            (gen / f"{i}.mid").write_bytes(midi)
    write_jsonl(rows, root / "data/ingest/index.jsonl")
    sf.write(gen / "10.wav", [0.0] * 1600, 16000)
    (gen / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    abc = root / "reports/abc_family"
    abc.mkdir(parents=True)
    (abc / "tune.abc").write_text(TUNE)
    abc_to_midi(to_score(TUNE), abc / "tune.mid")
    (abc / "tune2.abc").write_text(TUNE)
    save_tiny_scorer(root / "clamp.pth")
    return root


def contracts(root: Path) -> list[Path]:
    gen, abc = root / "reports/midi_family", root / "reports/abc_family"
    a = write_contract(
        gen,
        "fam",
        "midi",
        [{"path": f"{i}.mid", "label": "big", "audio": "10.wav" if i == 10 else None} for i in (10, 11, 12)]
        + [{"path": "broken.mid", "label": "big"}],
    )
    b = write_contract(
        abc,
        "abcfam",
        "abc",
        [
            {"path": "tune.abc", "label": "K=0", "midi": "tune.mid"},
            {"path": "tune2.abc", "label": "K=0", "problems": ["family: the family's own check failed"]},
        ],
    )
    return [a, b]


def test_contract_is_checked_in_one_line(tmp_path):
    (tmp_path / "a.mid").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="audio a.wav is not a file in"):
        write_contract(tmp_path, "fam", "midi", [{"path": "a.mid", "label": "x", "audio": "a.wav"}])
    with pytest.raises(ValueError, match="format must be one of"):
        write_contract(tmp_path, "fam", "wav", [])
    path = write_contract(tmp_path, "fam", "midi", [{"path": "a.mid", "label": "x", "problems": []}])
    c = read_contract(tmp_path)  # a folder reads its samples.json
    assert c.family == "fam" and c.samples[0].path == tmp_path / "a.mid" and c.samples[0].problems == []
    assert "problems" not in json.loads(path.read_text())["samples"][0]  # empty optionals are left out
    path.write_text(json.dumps({"family": "fam", "format": "midi", "samples": [{"path": "a.mid"}]}))
    with pytest.raises(ValueError, match=r"samples.json: sample 0 needs 'path' and 'label'"):
        read_contract(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="samples.json: not JSON"):
        read_contract(path)
    with pytest.raises(FileNotFoundError, match="samples contract not found"):
        read_contract(tmp_path / "nowhere")


def test_table_over_contracts(repo):
    from pipeline.clamp import load, mtf

    clamp = load(repo / "clamp.pth")
    reference = held_out_midi(repo / "data/ingest", ["test"])
    assert len(reference) == 8
    table = generator_table(
        [read_contract(p) for p in contracts(repo)],
        reference,
        Scorer(clamp.music_features, mtf),
        TableConfig(n_boot=10, n_boot_inf=10),
        root=repo,
    )
    rows = {r["row"]: r for r in table["rows"]}
    assert list(rows) == ["fam big", "abcfam K=0", "reference half", "shuffled onsets", "random pitch"]
    big, abc = rows["fam big"], rows["abcfam K=0"]
    assert (big["pieces"], big["valid"], big["invalid_by_check"]) == (4, 3, {"decode": 1})
    # an ABC sample takes its notes from the family's MIDI and keeps the family's own problems
    assert (abc["pieces"], abc["valid"], abc["invalid_by_check"]) == (2, 1, {"family": 1})
    assert big["media"] == {"midi": "reports/midi_family/10.mid", "audio": "reports/midi_family/10.wav"} | {
        "format": "midi"
    }
    assert table["warnings"] and "abcfam K=0" in table["warnings"][0]
    assert table["reference_pieces"] == 4 and rows["reference half"]["pieces"] == 4
    # the markdown names the splits the reference came from (on micro they include train: not "held-out")
    assert "Reference: 4 pieces, the held half of splits test of data/ingest/index.jsonl." in markdown(table)
    assert table["contracts"] == ["reports/midi_family/samples.json", "reports/abc_family/samples.json"]
    assert big["cells"]["fmd"]["value"] is not None and abc["cells"]["fmd"]["value"] is None  # one valid piece
    # random pitches cannot keep the chorales' pitch range: the one separation that holds at any size
    assert table["separates"]["pitch_range"]["random pitch"] is True
    assert table["best"]["fmd"] == ["fam big"] and "validity" not in table["separates"]


def test_best_marks_ties_and_lower_is_better():
    def row(name, fmd, entropy):
        cells = {c: {"value": None} for c in ("validity", "fmd_inf", "pitch_range", "polyphony")}
        cells |= {c: {"value": None} for c in ("note_density", "grooving_similarity", "ioi_histogram")}
        cells |= {"pitch_interval_histogram": {"value": None}}
        cells["fmd"] = {"value": fmd, "ci95": [fmd - 0.1, fmd + 0.1]}
        cells["pitch_class_entropy"] = {"value": entropy, "ci95": [entropy - 0.01, entropy + 0.01]}
        return {"row": name, "cells": cells}

    table = {
        "rows": [
            row("a", 1.0, 0.5),
            row("b", 2.0, 0.5),
            row("reference half", 0.1, 0.9),
            row("shuffled onsets", 0.15, 0.5),
            row("random pitch", 3.0, 0.9),
        ]
    }
    best, sep = best_and_separation(table)
    assert best["fmd"] == ["a"] and best["pitch_class_entropy"] == ["a", "b"]
    assert sep["fmd"] == {"shuffled onsets": False, "random pitch": True}
    assert sep["pitch_class_entropy"] == {"shuffled onsets": True, "random pitch": False}
    assert sep["polyphony"] == {"shuffled onsets": False, "random pitch": False}  # n/a separates nothing


def test_family_writers_follow_the_contract(tmp_path):
    from pipeline.aria.samples_contract import write_aria_contract
    from pipeline.gnm.samples_contract import write_gnm_contract
    from pipeline.notagen.samples_contract import write_score_table_contract

    aria = tmp_path / "aria"
    (aria / "p").mkdir(parents=True)
    for f in ("var0.mid", "var0.wav", "var0.png"):
        (aria / "p" / f).write_bytes(b"x")
    s = {"midi": "p/var0.mid", "audio": "p/var0.wav", "png": "p/var0.png", "composer": "bach"}
    (aria / "index.json").write_text(json.dumps({"model": "models/aria_finetune", "samples": [s]}))
    c = read_contract(write_aria_contract(aria))
    assert (c.family, c.format, c.samples[0].label, c.samples[0].image) == ("aria", "midi", "finetune", aria / s["png"])
    (aria / "pretrain" / "p").mkdir(parents=True)  # the pretrained model's continuations: a row of their own
    for f in ("var0.mid", "var0.wav", "var0.png"):
        (aria / "pretrain" / "p" / f).write_bytes(b"x")
    (aria / "pretrain" / "index.json").write_text(json.dumps({"model": "models/aria_pretrain", "samples": [s]}))
    c = read_contract(write_aria_contract(aria))
    assert [x.label for x in c.samples] == ["finetune", "pretrain"]
    assert c.samples[1].midi == aria / "pretrain" / s["midi"] and c.samples[1].image == aria / "pretrain" / s["png"]

    gnm = tmp_path / "gnm"
    for m in ("generality/None", "mastery/Bach"):
        (gnm / m).mkdir(parents=True)
        (gnm / m / "0.mid").write_bytes(b"x")
    idx = [
        {"model": m.split("/")[0], "composer": m.split("/")[1], "midi": f"{m}/0.mid"}
        for m in ("generality/None", "mastery/Bach")
    ]
    (gnm / "index.json").write_text(json.dumps({"samples": idx}))
    c = read_contract(write_gnm_contract(gnm))
    assert [(x.label, x.composer) for x in c.samples] == [("generality", None), ("mastery Bach", "Bach")]

    nota = tmp_path / "nota"
    (nota / "samples").mkdir(parents=True)
    (nota / "samples/k0_0.interleaved.abc").write_text(TUNE)
    (nota / "samples/k0_0.abc").write_text("%Baroque\n%Bach, Johann Sebastian\n%Keyboard\n" + TUNE)  # the prompt
    (nota / "samples/k1_0.abc").write_text(TUNE.replace("G8|][V:2]G,,8|]", "G8|[V:2]G,,8|"))
    rendered = {"k0": [{"abc": "k0_0.abc", "interleaved": "k0_0.interleaved.abc"}], "k1": [{"abc": "k1_0.abc"}]}
    details = {"ground_truth": {}} | {k: {"rendered": v} for k, v in rendered.items()}
    (nota / "table.json").write_text(json.dumps({"details": details}))
    c = read_contract(write_score_table_contract(nota))
    assert [(x.label, x.path.name, x.midi) for x in c.samples] == [
        ("K=0", "k0_0.interleaved.abc", None),
        ("K=1", "k1_0.abc", None),
    ]
    assert c.samples[0].problems == [] and c.samples[1].problems[0].startswith("end: the last line")
    assert [x.composer for x in c.samples] == ["Bach, Johann Sebastian", None]  # from the plain ABC's prompt lines


def test_report_leads_with_the_generators_table(tmp_path):
    from pipeline.report.assets import Assets
    from pipeline.report.generators import generators_section

    root = tmp_path / "repo"
    (root / "reports/g/x").mkdir(parents=True)
    from tests.unit.test_report import write_midi

    write_midi(root / "reports/g/x/0.mid")
    sf.write(root / "reports/g/x/0.wav", [0.0] * 1600, 16000)

    def cell(v):
        return {"value": v, "ci95": [v - 0.1, v + 0.1]}

    from pipeline.eval.table_writer import COLUMNS

    def row(name, v, media=None):
        return {"row": name, "pieces": 3, "valid": 3, "cells": {c: cell(v) for c in COLUMNS}, "media": media or {}}

    table = {
        "reference_pieces": 4,
        "config": {"n_boot": 10},
        "rows": [
            row("fam big", 1.0, {"midi": "reports/g/x/0.mid", "audio": "reports/g/x/0.wav", "format": "midi"}),
            row("fam evil", 1.0, {"audio": "../../etc/passwd", "format": "midi"}),
            row("reference half", 0.5),
            row("shuffled onsets", 0.55),
            row("random pitch", 3.0),
        ],
    }
    table["best"], table["separates"] = best_and_separation(table)
    table["style"] = {"fam big": {"accuracy": {"value": 0.75, "ci95": [0.25, 1.0]}, "pieces": 4}}
    site = tmp_path / "site"
    assets = Assets(site)
    html = generators_section(root, assets, table)
    assert "<b>★ 0.75" in html and html.count("not conditioned on a class") == 4  # every other row
    assert html.count("<b>★") == len(COLUMNS) * 2 + 1  # both generator rows tie everywhere; style: one row
    assert "FMD ↓: cannot separate shuffled onsets from real pieces at this scale" in html
    assert (site / "assets/generators/reports/g/x/0.wav").is_file() and assets.counts["audio"] == 1
    assert list((site / "rolls/generators").glob("*.png"))  # no image given: the roll is drawn from the MIDI
    assert "rendered it): no audio" in html  # a path outside the repo is not copied


def test_valle_rows_and_cut(tmp_path):
    from pipeline.valle.data import TICKS_PER_SECOND
    from pipeline.valle.generator_renders import first_seconds, row_midis

    notes = [(0, 100, 60, 80), (TICKS_PER_SECOND, 10 * TICKS_PER_SECOND, 62, 80), (3 * TICKS_PER_SECOND, 5, 64, 80)]
    assert first_seconds(notes, 2.0) == [(0, 100, 60, 80), (TICKS_PER_SECOND, TICKS_PER_SECOND, 62, 80)]
    for f in ("a.mid", "b.mid"):
        (tmp_path / f).write_bytes(b"x")
    (tmp_path / "t.abc").write_text(TUNE)
    write_contract(tmp_path, "fam", "midi", [{"path": "a.mid", "label": "x"}, {"path": "b.mid", "label": "x"}])
    a = read_contract(tmp_path)
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc/t.abc").write_text(TUNE)
    write_contract(tmp_path / "abc", "nota", "abc", [{"path": "t.abc", "label": "K=0"}])  # no MIDI: not rendered
    rows = row_midis([a, read_contract(tmp_path / "abc")])
    assert rows == {"fam x": tmp_path / "a.mid"}


def test_report_shows_valle_renders_and_audio_fad(tmp_path):
    from pipeline.eval.table_writer import COLUMNS
    from pipeline.report.assets import Assets
    from pipeline.report.generators import AUDIO, generators_section

    root = tmp_path / "repo"
    (root / AUDIO.parent).mkdir(parents=True)
    for f in ("fam_a.valle.flac", "fam_a.fluidsynth.flac"):
        sf.write(root / AUDIO.parent / f, [0.0] * 1600, 16000)
    cell = {"value": 1.0, "ci95": [0.9, 1.1]}
    rows = [
        {
            "row": n,
            "pieces": 2,
            "valid": 2,
            "cells": {c: cell for c in COLUMNS},
            "media": {"format": "midi"} if m else {},
        }
        for n, m in (("fam a", 1), ("fam b", 1), ("reference half", 0), ("shuffled onsets", 0), ("random pitch", 0))
    ]
    table = {"reference_pieces": 4, "config": {"n_boot": 10}, "rows": rows}
    fad = {"valle": {"logmel": 2.0, "codec": 0.1}, "fluidsynth": {"logmel": 1.0, "codec": None}}
    audio = {
        "prompt": {"recording": "rec", "condition": "piano_dry", "seconds": 3.0},
        "seconds": 8.0,
        "reference_segments": 4,
        "rows": {"fam a": {"files": {"valle": "fam_a.valle.flac", "fluidsynth": "fam_a.fluidsynth.flac"}, "fad": fad}},
        "rejected": [{"row": "fam b", "reason": "MidiTokenError: no notes"}],
    }
    site = tmp_path / "site"
    assets = Assets(site)
    html = generators_section(root, assets, table, audio)
    assert "FAD against 4 real held-out segments" in html and "fam b: MidiTokenError: no notes" in html
    assert html.count("<b>★ ") == 3 and "n/a" in html  # one row: each FAD column with a value is its best
    assert assets.counts["audio"] == 2 and (site / "assets/generators" / AUDIO.parent / "fam_a.valle.flac").is_file()
    assert "VALL-E in the prompt&#x27;s condition" in html
    assert html.count("VALL-E in the prompt&#x27;s condition: no audio") == 1  # fam b: not rendered


def test_style_accuracy_per_conditioned_row(tmp_path):
    from pipeline.eval.samples_contract import read_style_predictions, write_style_predictions
    from pipeline.eval.style_table import style_rows
    from pipeline.gnm.samples_contract import write_gnm_style

    pieces = {
        "generality": [{"model": "generality", "composer": "None", "predicted": "Bach"}],
        "mastery": [
            {"model": "mastery", "composer": "Bach", "predicted": p} for p in ("Bach", "Bach", "Haydn", "Bach")
        ],
    }
    (tmp_path / "style.json").write_text(json.dumps({"pieces": pieces}))
    (tmp_path / "metrics.json").write_text(json.dumps({"classes": ["Bach", "Haydn"]}))
    gnm = read_style_predictions(write_gnm_style(tmp_path, "models/gnm_classifier"))
    other = {"classes": ["Bach"], "predictions": [{"row": "nota K=0", "conditioned": "Mozart", "predicted": "Bach"}]}
    rows = style_rows([gnm, other], n_boot=20, seed=0)
    assert list(rows) == ["gnm mastery Bach"]  # unconditioned and unknown-class rows are left out
    r = rows["gnm mastery Bach"]
    assert r["pieces"] == 4 and r["accuracy"]["value"] == 0.75 and r["confusion"] == {"Bach": {"Bach": 3, "Haydn": 1}}
    with pytest.raises(ValueError, match="each needs row, conditioned, predicted"):
        write_style_predictions(tmp_path, "fam", "clf", ["Bach"], [{"row": "x"}])
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError, match="bad.json: needs 'classes'"):
        read_style_predictions(tmp_path / "bad.json")
