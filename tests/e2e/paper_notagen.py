"""NotaGen's paper profile (profiles/paper-notagen.yaml) on micro data: released-format NotaGen and
CLaMP 2 ``.pth`` files stand in for the downloads, a few real pieces in NotaGen's fine-tuning layout
(``<period>/<composer>/<instrumentation>/``) for the ground truth; ``abc_score_table`` must import
the weights (``steps: 0``), score with them and name them in its report."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from music21 import corpus
from test_clamp import TINY, save_upstream, tiny_clamp
from test_init_stage import released_notagen

from pipeline.clamp.corpus import read_split
from pipeline.clamp.table import pooled_perplexity, text_logprobs
from pipeline.notagen.checkpoint import load as load_notagen
from pipeline.orchestration.stage import hash_path

# Pieces picked so that the seeded hash split (ingest.split below) gives train both periods (the
# label probes need two classes), val one piece and test one of each period (the ground-truth row).
CHORALES = ["bwv101.7", "bwv103.6", "bwv104.6", "bwv102.7", "bwv111.6"]  # train x3, val, test
FOLK, TUNES = "essenFolksong/altdeu10.abc", (8, 10, 11)  # X: numbers; train, test, train
PATCH_LENGTH = 48  # neither the profile's 1024 nor micro's 64: the import must take the checkpoint's


def ground_truth(dest: Path) -> None:
    """Bach chorales (the corpus's MusicXML) and German folk songs (ABC, one tune a file), in
    NotaGen's folder layout ``<period>/<composer>/<instrumentation>/``."""
    choral = dest / "Baroque" / "Bach, Johann Sebastian" / "Choral"
    choral.mkdir(parents=True)
    for name in CHORALES:
        shutil.copy(corpus.getWork(name), choral / f"{name}.mxl")
    folk = dest / "Folk" / "Traditional" / "Voice"
    folk.mkdir(parents=True)
    tunes = {int(t.split("\n")[0]): "X:" + t.strip() + "\n" for t in corpus.getWork(FOLK).read_text().split("\nX:")[1:]}
    for x in TUNES:
        (folk / f"altdeu10-x{x}.abc").write_text(tunes[x], encoding="utf-8")


def clamp2(path: Path) -> None:
    """A released-format CLaMP 2 file (train_clamp2.py's dict), XLM-R-style text ids in miniature."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_upstream(tiny_clamp(seed=0), path, optimizer={"state": {}})


WRITERS = {
    "ingest.sources[0].path": ground_truth,
    "abc_pretrain.init": lambda p: released_notagen(p, seed=0, patch_length=PATCH_LENGTH),
    "abc_finetune.init": lambda p: released_notagen(p, seed=1, patch_length=PATCH_LENGTH),
    "clamp_train.init": clamp2,
}

# Micro sizes only: every init and `steps: 0` of the paper profile stays.
MICRO = {
    "runtime": {"device": "cpu", "task_runner": "threads"},  # 8 pieces: no worker processes to start
    "ingest": {"split": {"val": 0.25, "test": 0.25}},
    "abc_dpo": {
        "iterations": 1,
        "prompts": 1,
        "samples_per_prompt": 3,
        "max_chars": 160,
        "max_seconds": 2.0,
        "on_empty": "keep_policy",  # tiny random models write nothing that passes the chosen-side checks
        "steps": 2,
        "eval_every": 2,
        "checkpoint_every": 2,
    },
    "abc_score_table": {"perplexity_pieces": 2, "render_per_k": 1, "audio_seconds": 5.0},
}

TARGETS = ["abc_score_table"]
IMPORTS = ("abc_pretrain", "abc_finetune", "clamp_train")


def check(repo: Path, filled: dict[str, str], ran: list[str]) -> None:
    for stage in ("ingest", "abc_tokenize", *IMPORTS, "abc_dpo", "abc_score_table"):
        assert stage in ran, (stage, ran)
    # steps 0 imported each released file: the manifest names it with the hash of its bytes, and
    # the checkpoint's shapes won over the profile's (NotaGen large, 1024 patches) and micro's
    for stage in IMPORTS:
        init = filled[f"{stage}.init"]
        manifest = json.loads((repo / "models" / stage / "manifest.json").read_text())
        assert manifest["init"] == {"path": init, "hash": hash_path(repo / init)}, stage
        assert manifest["metrics"]["steps"] == 0 and manifest["metrics"]["imported"], stage
    for stage in ("abc_pretrain", "abc_finetune"):
        config = json.loads((repo / "models" / stage / "config.json").read_text())["model"]
        assert (config["patch_length"], config["hidden"]) == (PATCH_LENGTH, 64), stage
    assert json.loads((repo / "models/clamp_train/config.json").read_text())["model"]["hidden"] == TINY["hidden"]

    # NotaGen Table 2: rows K = 0..1 (abc_dpo.iterations) then the ground truth; its columns
    rep = repo / "reports/abc_score_table"
    table = json.loads((rep / "table.json").read_text())
    assert table["columns"][1:7] == [
        "CLaMP score",
        "CLaMP score (set means)",
        "bar-alignment error",
        "period acc",
        "instrumentation acc",
        "perplexity",
    ]
    rows = {r[0]: dict(zip(table["columns"], r)) for r in table["rows"]}
    assert list(rows) == ["NotaGen (ours), K=0", "NotaGen (ours), K=1", "ground truth (held-out)"], list(rows)
    for k in (0, 1):
        r = rows[f"NotaGen (ours), K={k}"]
        assert all(isinstance(r[c], float) for c in ("CLaMP score", "bar-alignment error", "perplexity")), r
    # K = 0 was scored with the released file itself: its perplexity on the held-out texts
    held = [x.text for x in read_split(repo / "data/tokens/abc", "test")[:2]]  # abc_score_table.perplexity_pieces
    released = pooled_perplexity(text_logprobs(load_notagen(repo / filled["abc_finetune.init"]), held))
    assert math.isclose(rows["NotaGen (ours), K=0"]["perplexity"], released, rel_tol=1e-4)
    truth = rows["ground truth (held-out)"]
    assert truth["pieces"] == 2 and truth["bar-alignment error"] == 0.0, truth  # real music is aligned
    assert truth["period acc"] is not None and truth["instrumentation acc"] is not None, truth

    # the report names the weights it used: the imported NotaGen per K and the imported CLaMP 2
    weights = table["weights"]
    for role, key in (("K=0", "abc_finetune.init"), ("scorer", "clamp_train.init")):
        assert weights[role]["init"] == {"path": filled[key], "hash": hash_path(repo / filled[key])}, role
    assert "K=0 policy" in weights["K=1"]["from"]
    head = json.loads((rep / "headline.json").read_text())
    named = next(t for t in head["tables"] if t["caption"].startswith("Weights used"))["rows"]
    assert [r[2] for r in named] == [filled["abc_finetune.init"], weights["K=1"]["from"], filled["clamp_train.init"]]
