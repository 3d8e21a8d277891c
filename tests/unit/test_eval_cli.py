"""``ostinato eval SAMPLES_DIR --reference DIR``: the whole path on real chorales, a rendered ABC
piece, broken files, with a tiny seeded CLaMP checkpoint (no weights committed)."""

import json

import pytest
from clamp_tiny import save_tiny_scorer

from pipeline.cli import main

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TUNE = """X:1
L:1/8
M:4/4
K:G
V:1 nm="Soprano"
V:2 nm="Bass" clef=bass
[V:1]d2 fe dc B2|[V:2]G,,2 B,,2 D,2 G,2|
[V:1]B2 A2 G4|[V:2]G,2 D,2 G,,4|
[V:1]G8|][V:2]G,,8|]
"""
OPEN_END = TUNE.replace("G8|][V:2]G,,8|]", "G8|[V:2]G,,8|")  # stopped mid-tune: no final bar line


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from music21 import converter, corpus

    from pipeline.data.scores import score_to_midi_bytes

    root = tmp_path_factory.mktemp("eval")
    paths = sorted(p for p in corpus.getComposer("bach") if p.suffix == ".mxl")[:11]
    (root / "ref").mkdir()
    (root / "gen" / "abc").mkdir(parents=True)
    for i, p in enumerate(paths):
        where = root / ("ref" if i < 8 else "gen") / f"{p.stem}.mid"
        where.write_bytes(score_to_midi_bytes(converter.parse(p)))
    (root / "gen" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (root / "gen" / "abc" / "tune.abc").write_text(TUNE)
    (root / "gen" / "abc" / "tune.interleaved.abc").write_text(TUNE)  # the same piece: counted once
    (root / "gen" / "abc" / "cut.abc").write_text(OPEN_END)
    (root / "empty").mkdir()
    save_tiny_scorer(root / "clamp.pth")
    return root


def run(folders, *extra):
    return main(
        [
            "eval",
            str(folders / "gen"),
            "--reference",
            str(folders / "ref"),
            "--scorer",
            str(folders / "clamp.pth"),
            "--bootstrap",
            "10",
            "--no-progress",
            *extra,
        ]
    )


def test_eval_writes_one_table_and_counts_invalid_samples(folders, tmp_path, capsys):
    out = tmp_path / "table"
    assert run(folders, "--out", str(out)) == 0
    table = json.loads((out / "table.json").read_text())
    rows = {r["row"]: r for r in table["rows"]}
    assert list(rows) == ["samples: gen", "reference half", "shuffled onsets", "random pitch"]
    gen = rows["samples: gen"]
    assert gen["pieces"] == 6 and gen["valid"] == 4  # 3 chorales + the tune; broken.mid and cut.abc fail
    assert gen["invalid_by_check"] == {"decode": 1, "end": 1}
    assert {i["name"] for i in gen["invalid"]} == {"broken.mid", "abc/cut.abc"}
    assert table["reference_pieces"] == 4 and rows["reference half"]["pieces"] == 4
    assert table["feature_input"]["samples: gen"] == ["abc", "midi"] and table["warnings"]
    for r in rows.values():
        for name in ("fmd", "fmd_inf", "pitch_class_entropy", "validity"):
            cell = r["cells"][name]
            assert cell["ci95"][0] <= cell["value"] <= cell["ci95"][1], (r["row"], name)
    assert rows["samples: gen"]["cells"]["validity"]["value"] == pytest.approx(4 / 6)
    md = (out / "table.md").read_text()
    assert "| samples: gen | 4/6 |" in md and "decode 1, end 1" in md
    assert f"Reference: 4 pieces, the held half of {folders / 'ref'}." in md  # names what it was given
    assert md in capsys.readouterr().out

    assert run(folders, "--out", str(out)) == 2  # no silent overwrite
    assert "table.json exists; pass --force" in capsys.readouterr().err
    assert run(folders, "--out", str(out), "--force") == 0


def test_eval_refuses_bad_inputs_in_one_line(folders, tmp_path, capsys):
    args = ["--reference", str(folders / "ref"), "--scorer", str(folders / "clamp.pth"), "--out", str(tmp_path)]
    assert main(["eval", str(folders / "empty"), *args]) == 2
    assert "no MIDI (.mid, .midi) or ABC (.abc) files" in capsys.readouterr().err
    assert main(["eval", str(folders / "nowhere"), *args]) == 2
    assert "samples folder not found" in capsys.readouterr().err
    assert main(["eval", str(folders / "gen"), *args[:2], "--scorer", str(tmp_path / "none.pth")]) == 2
    assert "CLaMP scorer not found" in capsys.readouterr().err
    assert main(["eval", str(folders / "gen"), str(folders / "gen"), *args]) == 2
    assert "two samples folders share a name" in capsys.readouterr().err
