"""``ostinato generate --family notagen``: prompts checked against the fine-tune triples, files out."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

from pipeline.cli import main  # noqa: E402
from pipeline.notagen.checkpoint import save  # noqa: E402
from pipeline.notagen.model import NotaGenConfig, NotaGenModel  # noqa: E402
from pipeline.notagen.prompts import UnknownPromptError, check_prompt, read_prompts  # noqa: E402

TRIPLES = [
    {"period": "Baroque", "composer": "Bach, Johann Sebastian", "instrumentation": "Chorus", "pieces": 6},
    {"period": "Folk", "composer": "Traditional", "instrumentation": "Voice", "pieces": 8},
    {
        "period": "Renaissance",
        "composer": "Palestrina, Giovanni Pierluigi da",
        "instrumentation": "Chorus",
        "pieces": 4,
    },
]


@pytest.fixture
def ckpt_dir(tmp_path):
    torch.manual_seed(0)
    d = tmp_path / "abc_finetune"
    save(NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=32)), d)
    (d / "prompts.json").write_text(json.dumps(TRIPLES))
    return d


def run(capsys, *argv):
    code = main(["generate", "--family", "notagen", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_generates_abc_files(ckpt_dir, tmp_path, capsys):
    code, out = run(
        capsys,
        "--checkpoint",
        ckpt_dir,
        "--period",
        "baroque",
        "--composer",
        "Bach, Johann Sebastian",
        "--instrumentation",
        "Chorus",
        "--seed",
        0,
        "--max-chars",
        40,
        "--no-audio",
        "--save-dir",
        tmp_path / "out",
        "-n",
        2,
        "--top-k",
        5,
    )
    # 40 characters never reach the end of a piece: the ABC is kept, the rest is named as skipped
    assert code == 2 and "no piece got past ABC" in out and "skipped" in out, out
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["Baroque_Bach-Johann-Sebastian_Chorus_0.abc", "Baroque_Bach-Johann-Sebastian_Chorus_1.abc"]
    text = (tmp_path / "out" / files[0]).read_text()
    assert text.startswith("%Baroque\n%Bach, Johann Sebastian\n%Chorus\n")
    assert "stop max_chars" in out or "stop no_body_line" in out or "stop eos" in out


def test_unknown_triple_lists_the_nearest(ckpt_dir, tmp_path, capsys):
    code, out = run(
        capsys,
        "--checkpoint",
        ckpt_dir,
        "--period",
        "Baroque",
        "--composer",
        "Bach",
        "--instrumentation",
        "Choir",
        "--save-dir",
        tmp_path,
    )
    assert code == 2 and "unknown prompt" in out and "Baroque / Bach, Johann Sebastian / Chorus" in out
    with pytest.raises(UnknownPromptError, match="nearest: Renaissance / Palestrina"):
        check_prompt(("Renaisance", "Palestrina", "Chorus"), read_prompts(ckpt_dir / "prompts.json"))


def test_upstream_prompts_txt_and_foreign_options(ckpt_dir, tmp_path, capsys):
    txt = tmp_path / "prompts.txt"
    txt.write_text("Romantic_Chopin, Frederic_Keyboard\nBaroque_Bach, Johann Sebastian_Keyboard\n")
    assert read_prompts(txt)[0] == ("Romantic", "Chopin, Frederic", "Keyboard")
    code, out = run(
        capsys,
        "--checkpoint",
        ckpt_dir,
        "--prompts",
        txt,
        "--period",
        "Romantic",
        "--composer",
        "Chopin",
        "--instrumentation",
        "Keyboard",
        "--save-dir",
        tmp_path,
    )
    assert code == 2 and "Romantic / Chopin, Frederic / Keyboard" in out
    code, out = run(
        capsys,
        "--checkpoint",
        ckpt_dir,
        "--period",
        "Baroque",
        "--composer",
        "x",
        "--instrumentation",
        "y",
        "--min-p",
        0.1,
    )
    assert code == 2 and "--min-p (a --family aria option)" in out
    code, out = run(capsys, "--checkpoint", ckpt_dir, "--period", "Baroque")
    assert code == 2 and "needs --period, --composer and --instrumentation" in out
