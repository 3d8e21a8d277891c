"""Aria's paper profile (profiles/paper-aria.yaml) on micro data: the linear-probe table of the
released embedding model (contrastive), the frozen released base (frozen), handcrafted features and
the released CLaMP 2 (clamp) on the eval splits' own train / test.

Stand-ins for the downloads: three tiny checkpoints in the released Aria ``.safetensors`` layout (no
metadata, the vocabulary of the profile's tokenizer), a tiny CLaMP in train_clamp2.py's ``.pth``
layout, and eight pieces of the music21 corpus as
the eval splits' MIDI folder with its ``metadata.json`` (category -> split -> path -> label), every
one of the paper's six tasks labelled so that each class has pieces on both sides of the split."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from clamp_tiny import TINY
from test_clamp import save_upstream
from test_init_stage import released_aria

from pipeline.clamp.model import ClampConfig, ClampModel
from pipeline.orchestration.stage import hash_path

ROOT = Path(__file__).resolve().parents[2]
TASKS = ["genre", "music_period", "composer", "form", "pianist", "emotion"]
EMBEDDINGS = ["contrastive", "frozen_mean", "frozen_last", "handcrafted", "clamp"]  # frozen gives two
IMPORTS = ["aria_pretrain", "aria_finetune", "aria_contrastive"]
WEIGHTS = {"contrastive": "aria_contrastive", "frozen_mean": "aria_pretrain", "frozen_last": "aria_pretrain"}

# (music21 corpus path, split, form, pianist, emotion): short pieces (~200-550 notes) so the
# tokenizer and the embedders stay fast. The scores carry no pianist or emotion, so those labels
# are stand-ins, crossed with the composer so a task is not the composer task again.
PIECES = [
    ("bach/bwv1.6.mxl", "train", "chorale", "p1", "happy"),
    ("bach/bwv10.7.mxl", "train", "chorale", "p2", "sad"),
    ("bach/bwv101.7.mxl", "test", "chorale", "p1", "sad"),
    ("bach/bwv102.7.mxl", "test", "chorale", "p2", "happy"),
    ("palestrina/Agnus.krn", "train", "mass", "p1", "happy"),
    ("palestrina/Agnus_00.krn", "train", "mass", "p2", "sad"),
    ("palestrina/Agnus_01.krn", "test", "mass", "p1", "sad"),
    ("palestrina/Agnus_03.krn", "test", "mass", "p2", "happy"),
]
ERA = {"bach": ("chorale", "baroque"), "palestrina": ("sacred", "renaissance")}


def eval_labels(corpus_path: str, form: str, pianist: str, emotion: str) -> dict[str, str]:
    composer = corpus_path.split("/")[0]
    genre, period = ERA[composer]
    return {
        "genre": genre,
        "music_period": period,
        "composer": composer,
        "form": form,
        "pianist": pianist,
        "emotion": emotion,
    }


def write_eval_midi(folder: Path) -> None:
    """The MIDI folder of eval-splits.tar.gz: one file per piece, rendered from the corpus score."""
    from music21 import corpus

    folder.mkdir(parents=True, exist_ok=True)
    for corpus_path, *_ in PIECES:
        corpus.parse(corpus_path).write("midi", fp=str(folder / midi_name(corpus_path)))


def midi_name(corpus_path: str) -> str:
    return "paper-aria-" + corpus_path.replace("/", "-").rsplit(".", 1)[0] + ".mid"


def write_eval_metadata(path: Path) -> None:
    """metadata.json in the released shape: category -> split -> path -> label."""
    meta: dict[str, dict[str, dict[str, str]]] = {task: {} for task in TASKS}
    for corpus_path, split, *rest in PIECES:
        for task, label in eval_labels(corpus_path, *rest).items():
            meta[task].setdefault(split, {})[midi_name(corpus_path)] = label
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(meta, indent=1))


def profile_vocab_size() -> int:
    """The vocabulary of the tokenizer the profile configures, built as aria_tokenize builds it."""
    from pipeline.aria.tokenizer import AbsTokenizer
    from pipeline.params.aria import AriaTokenizerConfig

    profile = yaml.safe_load((ROOT / "profiles" / "paper-aria.yaml").read_text())
    return AbsTokenizer(**AriaTokenizerConfig(**profile["aria_tokenize"]["config"]).model_dump()).vocab_size


def released(head: str, seed: int):
    def write(path: Path) -> None:
        released_aria(path, head=head, vocab=profile_vocab_size(), seed=seed)

    return write


def released_clamp2(path: Path) -> None:
    """train_clamp2.py's .pth (model, optimizer, lr_sched, epochs), a tiny CLaMP in miniature."""
    torch.manual_seed(4)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_upstream(ClampModel(ClampConfig(**TINY)), path, optimizer={"state": {}})


WRITERS = {
    "ingest.sources[0].path": write_eval_midi,
    "ingest.sources[0].metadata": write_eval_metadata,
    "aria_pretrain.init": released("lm", seed=1),  # aria-medium-base
    "aria_finetune.init": released("lm", seed=2),  # aria-medium-gen
    "aria_contrastive.init": released("emb", seed=3),  # aria-medium-embedding
    "aria_embed.clamp": released_clamp2,  # the CLaMP 2 baseline row, read as released
}

# Micro sizes: nothing is trained (every init and steps: 0 stay), so only the CPU, the embedders'
# chunks and the probes' epochs and bootstrap shrink.
MICRO = {
    "runtime": {"device": "cpu", "task_runner": "threads"},  # 8 pieces: no worker processes to start
    "aria_embed": {"max_chunks": 1, "retrieval_notes": 16},
    "aria_probe": {"epochs": 3, "warmup_steps": 2, "bootstrap": 20},
}

TARGETS = ["aria_probe", "aria_finetune"]


def check(repo: Path, filled: dict[str, str], ran: list[str]) -> None:
    assert {"ingest", "aria_tokenize", *IMPORTS, "aria_embed", "aria_probe"} <= set(ran), ran
    for stage in IMPORTS:
        manifest = json.loads((repo / "models" / stage / "manifest.json").read_text())
        init = filled[f"{stage}.init"]
        assert manifest["init"] == {"path": init, "hash": hash_path(repo / init)}, (stage, manifest["init"])
        assert manifest["metrics"]["steps"] == 0 and manifest["metrics"]["imported"], manifest["metrics"]
    # the released shapes win over the profile's (model: medium, emb_size: 512)
    config = json.loads((repo / "models/aria_contrastive/config.json").read_text())["model"]
    assert (config["d_model"], config["n_layers"], config["emb_size"]) == (64, 1, 16), config

    out = repo / "reports/aria_probe"
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["tasks"]) == sorted(TASKS) and results["embedders"] == EMBEDDINGS
    assert results["pieces"] == len(PIECES)
    for task, per in results["tasks"].items():
        assert sorted(per) == sorted(EMBEDDINGS), (task, list(per))  # results.json sorts its keys
        for name, res in per.items():
            assert "skipped" not in res, (task, name, res)
            assert res["protocol"] == "given" and (res["n_train"], res["n_test"]) == (4, 4), (task, name, res)
            assert len(res["classes"]) == 2, (task, name, res["classes"])
    headline = json.loads((out / "headline.json").read_text())
    table = headline["tables"][0]
    assert table["columns"] == ["task", "metric", *EMBEDDINGS, "majority class"]
    assert [row[0].split(" (")[0] for row in table["rows"][::2]] == TASKS  # the paper's six, in its order
    assert [row[1] for row in table["rows"]] == ["accuracy", "macro-F1"] * len(TASKS)

    # the report names the weights each embedder row used: the imported file and its hash
    weights = results["weights"]
    md = (out / "table.md").read_text()
    for name, stage in WEIGHTS.items():
        init = filled[f"{stage}.init"]
        assert weights[name]["init"] == {"path": init, "hash": hash_path(repo / init)}, weights[name]
        assert weights[name]["model"] == f"models/{stage}"
        assert init in md and hash_path(repo / init) in md, md  # table.md's protocol paragraph
        assert init in headline["text"]  # the report's Aria section
    clamp = filled["aria_embed.clamp"]
    assert weights["clamp"] == {"model": clamp, "init": {"path": clamp, "hash": hash_path(repo / clamp)}, "steps": 0}
    assert f"clamp: `{clamp}`, read as released (hash {hash_path(repo / clamp)})" in md
    assert "clamp_train" not in ran  # the baseline reads the file: no CLaMP stage in the Aria chain
    assert weights["handcrafted"] is None
