"""profiles/paper-gnm.yaml on micro data: tiny upstream-format state dicts (generality, mastery with
adapters, style classifier) and a released-format ``dictionary.pkl`` stand in for the Hugging Face
downloads (Itsuki-music/Generality_to_Mastery); Bach chorales from the music21 corpus stand in
for upstream's two zips, in their layouts (pretrain_score/{pop,folk,classical}/, the fine-tuning
folder with one folder per composer + top4.csv). ``dvc repro gnm_eval`` in a fresh micro copy
(no other family's stage: NotaGen's chain cannot build from these MIDI-only sources) imports the
three checkpoints (``steps: 0``), trains the scratch baseline for a few steps, generates and writes
the style table scored by the released classifier, naming the weights of every row and of the
classifier."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

# Upstream's composers (the profile's gnm_tokenize.composers), two pieces each: one trains, one is
# held out (val_fraction 0.03 holds out one piece of any composer with two). The pieces are short
# chorales whatever the label: the test checks the pipeline, not the style.
TOP4 = {
    "Bach": ("bach/bwv269", "bach/bwv347"),
    "Chopin": ("bach/bwv153.1", "bach/bwv86.6"),
    "Mozart": ("bach/bwv66.6", "bach/bwv40.8"),
    "Beethoven": ("bach/bwv281", "bach/bwv312"),
}
PRETRAIN = {"pop": "bach/bwv248.12-2", "folk": "bach/bwv26.6", "classical": "bach/bwv103.6"}
SHAPE = {"d_model": 32, "n_heads": 8, "n_layers": 2, "d_ff": 64, "d_word_embed": 32}  # heads: upstream's 8
ADAPTERS = [1]  # the mastery checkpoint's adapter positions (upstream: 1, 3, 5, 7, 9)


def _midi(piece: str, out: Path) -> None:
    import music21

    out.parent.mkdir(parents=True, exist_ok=True)
    music21.corpus.parse(piece).write("midi", fp=str(out))


def _name(piece: str) -> str:
    return "gnm_" + piece.split("/")[1].replace(".", "_") + ".mid"


def pretrain_score(path: Path) -> None:
    """pretrain_score.zip unzipped: one folder per genre of MIDI files."""
    for genre, piece in PRETRAIN.items():
        _midi(piece, path / genre / _name(piece))


def top4_folder(path: Path) -> None:
    """finetune_top4_selected_new.zip unzipped: one folder per composer."""
    for composer, pieces in TOP4.items():
        for piece in pieces:
            _midi(piece, path / composer / _name(piece))


def top4_csv(path: Path) -> None:
    """path,composer per file, paths relative to the unzipped folder (docs/gnm.md step 1)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "composer"])
        for composer, pieces in TOP4.items():
            w.writerows([f"{composer}/{_name(p)}", composer] for p in pieces)


def released_vocab():
    """Upstream's whole reachable event dictionary (what the released dictionary.pkl holds): every
    event its encoder can write plus its five composer tokens, sorted as events2words sorts them."""
    from pipeline.gnm.encode import TEMPO_CLASSES
    from pipeline.gnm.vocab import Vocab

    metres = ("2/4", "3/4", "4/4", "3/8", "6/8")
    events = ["Composer_None", "BOS_None", "EOS_None", "Bar_None"]
    events += [f"Tempo_{t}" for t in TEMPO_CLASSES] + [f"Time_Signature_{m}" for m in metres]
    events += [f"Beat_{g}" for g in range(48)]  # 12 per quarter, 4/4 the longest bar
    return Vocab.build(events)


def dictionary_pkl(path: Path) -> None:
    """Upstream's pickled (event2word, word2event) pair, without PAD."""
    words = released_vocab().tokens[:-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(({w: i for i, w in enumerate(words)}, dict(enumerate(words))), fh)


def generality_pt(path: Path) -> None:
    """ep120_loss0.672: a bare decoder state dict, no adapters."""
    from test_init_stage import upstream_gnm

    upstream_gnm(path, released_vocab(), **SHAPE)


def mastery_pt(path: Path) -> None:
    """ep022_loss0.434: the same decoder with style adapters."""
    from test_init_stage import upstream_gnm

    upstream_gnm(path, released_vocab(), **SHAPE, adapter_positions=tuple(ADAPTERS))


def classifier_pt(path: Path) -> None:
    """ep014_loss0.462: upstream's ComposerClassifier state dict, one class per composer."""
    import torch

    from pipeline.gnm.model import StyleClassifier

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    clf = StyleClassifier(len(released_vocab()), len(TOP4), 32, 8, 1, 64, 0.0)
    torch.save(clf.state_dict(), path)


WRITERS = {
    "ingest.sources[0].path": pretrain_score,
    "ingest.sources[1].path": top4_folder,
    "ingest.sources[1].metadata": top4_csv,
    "gnm_tokenize.vocab": dictionary_pkl,
    "gnm_pretrain.init": generality_pt,
    "gnm_finetune.init": mastery_pt,
    "gnm_classifier.init": classifier_pt,
}

# Micro sizes; every init and steps: 0 stay the paper's, and so do the classifier's shape params
# (the imported checkpoint's shape must win over them). gnm_pretrain.model is the shape the
# scratch baseline trains: the paper profile sets it to the released generality shape, so here
# it is the tiny checkpoint's (check() asserts the two agree).
LOOP = {"steps": 2, "batch_size": 2, "grad_accum": 1, "warmup_steps": 1, "eval_every": 2, "eval_batches": 1}
MICRO = {
    "runtime": {"device": "cpu", "task_runner": "threads"},  # no worker processes to start (~4 s CPU each)
    "gnm_pretrain": {"model": {**SHAPE, "dropout": 0.1, "adapter_positions": ADAPTERS}, "seq_len": 64},
    "gnm_finetune": {"seq_len": 64},
    "gnm_scratch": {**LOOP, "seq_len": 64, "checkpoint_every": 2},
    "gnm_classifier": {"seq_len": 64},
    "gnm_generate": {"pieces": 1, "max_bars": 4, "max_events": 48, "max_seconds": 3},
    "gnm_eval": {"windows": 1, "samples_per_composer": 1},
}

IMPORTS = {"gnm_pretrain": "generality", "gnm_finetune": "mastery", "gnm_classifier": "classifier"}
STAGES = (
    "ingest",
    "gnm_tokenize",
    "gnm_pretrain",
    "gnm_finetune",
    "gnm_scratch",
    "gnm_classifier",
    "gnm_generate",
    "gnm_eval",
)
TARGETS = ["gnm_eval"]  # its chain only: the verdicts on NotaGen samples are gnm_style_foreign's


def check(repo: Path, filled: dict[str, str], ran: list[str]) -> None:
    from pipeline.gnm.checkpoint import read_config
    from pipeline.orchestration.stage import hash_path

    assert sorted(ran) == sorted(STAGES) and ran[0] == "ingest" and ran[-1] == "gnm_eval", ran
    used = {}
    for stage, row in IMPORTS.items():
        manifest = json.loads((repo / "models" / stage / "manifest.json").read_text())
        init = filled[f"{stage}.init"]
        assert manifest["init"] == {"path": init, "hash": hash_path(repo / init)}, manifest.get("init")
        assert manifest["metrics"]["steps"] == 0 and manifest["metrics"]["imported"]
        used[row] = manifest["init"]
    # the released dictionary is the vocabulary; nothing of the corpus fell outside it
    tokenize = json.loads((repo / "reports/gnm_tokenize/stats.json").read_text())
    assert tokenize["vocab_size"] == len(released_vocab()) and tokenize["rejected"] == 0, tokenize
    # the checkpoints' shapes were adopted (the classifier's params say 512 x 6); scratch trained
    # the generality shape without adapters
    generality, scratch = (read_config(repo / f"models/{s}") for s in ("gnm_pretrain", "gnm_scratch"))
    assert read_config(repo / "models/gnm_classifier")["d_model"] == 32
    assert read_config(repo / "models/gnm_finetune")["adapter_positions"] == ADAPTERS
    shape = ("d_model", "n_layers", "d_ff", "d_word_embed")
    assert [scratch[k] for k in shape] == [generality[k] for k in shape] and scratch["adapter_positions"] == []
    assert "model_differs" not in json.loads((repo / "models/gnm_pretrain/manifest.json").read_text())["metrics"]
    assert json.loads((repo / "models/gnm_scratch/manifest.json").read_text())["metrics"]["steps"] == 2

    # the paper's table: per composer (then the mean) mastery vs scratch, the generality ratios,
    # a confusion matrix per conditioned model
    d = repo / "reports/gnm_eval"
    head = json.loads((d / "headline.json").read_text())
    style, generality_ratio = head["tables"][0], head["tables"][2]
    composers = list(TOP4)
    assert style["columns"][:3] == ["composer", "mastery", "scratch"]
    assert [r[0] for r in style["rows"]] == [*composers, "mean"]
    assert [r[0] for r in generality_ratio["rows"]] == composers
    metrics = json.loads((d / "metrics.json").read_text())
    assert set(metrics["style"]) == {"generality", "mastery", "scratch"} and metrics["classes"] == composers
    assert all(len(r) == len(style["columns"]) for r in style["rows"])
    confusion = json.loads((d / "style.json").read_text())["style"]
    for model in ("mastery", "scratch"):
        assert len(confusion[model]["confusion"]) == len(composers) and (d / f"confusion_{model}.png").is_file()

    # the reports name the weights they used: the released files by path and content hash, and
    # the scratch model trained here by its params.pt
    weights = metrics["weights"]
    for row, init in used.items():
        assert weights[row] == {"path": init["path"], "hash": init["hash"], "steps": 0}, weights[row]
        assert init["path"] in head["text"], head["text"]
    own = repo / "models/gnm_scratch/params.pt"
    assert weights["scratch"] == {"path": "models/gnm_scratch/params.pt", "hash": hash_path(own), "steps": 2}
    assert "models/gnm_scratch/params.pt" in head["text"], head["text"]
