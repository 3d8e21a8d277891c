"""Tiny jobs of every family's training stage, for tests/unit/test_torchrun_families.py.

``fixtures(root)`` writes tiny data and returns ``{family: (entry, job_for(world, tag))}``: a job
whose per-process batch is ``GLOBAL_BATCH / world``, so one process and ``world`` processes train
on the same global batches. ``run_all(jobs, writes_log)`` is the torchrun target: ONE launch of
2 processes runs every family's job in turn inside one process group, and on ranks > 0 an audit hook
logs every file those ranks create, rename or open for writing under the jobs' output folders
(rank 0 alone must write them).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
from jobs import cpu_job

GLOBAL_BATCH = 4
STEPS = 3
# eval every step: each history row then holds that step's train loss (the curve we compare)
LOOP = {
    "steps": STEPS,
    "lr": 3e-3,
    "warmup_steps": 0,
    "final_lr_frac": 1.0,
    "eval_every": 1,
    "eval_batches": 1,
    "checkpoint_every": STEPS,
}

ABC = (
    '%Baroque\n%Bach, Johann Sebastian\n%Chorus\nX:1\nL:1/8\nM:4/4\nK:F#m\nV:1 nm="Soprano"\n'
    'V:2 nm="Bass" clef=bass\n[V:1]cB|[V:2]A,G,|\n[V:1]A2 B2 c2 e2|[V:2]F,2 G,2 A,2 G,2|\n'
    "[V:1]z8|[V:2]A,C, E,2 A,,2 ^E,2|\n[V:1]F6 :|[V:2]F,6 :|\n"
)
ABC_VARIANTS = ("A2 B2 c2 e2", "c2 B2 A2 G2", "e2 d2 c2 B2", "F2 A2 c2 f2", "B2 c2 d2 e2", "G2 F2 E2 D2")


def _job(stage: str, p, root: Path, fam: str, tag: str, inputs: dict) -> dict:
    """A stage's typed job as the JSON a torchrun worker receives."""
    return cpu_job(stage, p, root / tag / fam, inputs, seed=3).to_json()


def _codec(root: Path) -> tuple:
    import soundfile as sf
    import torch

    from pipeline.codec import Codec, CodecConfig, save
    from pipeline.params.codec import CodecTrainParams

    sr, t = 16000, np.arange(16000) / 16000
    specs = []
    for k in range(2):
        wave = (0.3 * np.sin(2 * np.pi * (220 + 110 * k) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
            np.float32
        )
        sf.write(root / f"codec{k}.flac", wave, sr)
        specs.append(
            {
                "id": f"s{k}",
                "audio": str(root / f"codec{k}.flac"),
                "start": 0.0,
                "duration": 1.0,
                "sample_rate": sr,
                "split": "train",
                "condition": "piano_dry",
            }
        )
    # no k-means init / dead-code expiry: they draw random vectors, by design not equal across world
    # sizes; a fast EMA (decay 0.5) so unsynchronised codebooks show within 3 steps. The params'
    # model section cannot say that, so the codec starts from a saved one (init_from: its config wins)
    torch.manual_seed(0)
    save(
        Codec(
            CodecConfig(
                n_filters=2,
                dimension=8,
                bins=16,
                n_q=2,
                ratios=(8, 5, 4, 2),
                kmeans_init=False,
                threshold_ema_dead_code=0.0,
                decay=0.5,
            )
        ),
        root / "codec_init",
    )
    inputs = {
        "train_segments": specs,
        "val_segments": specs[:1],
        "sample_rate": sr,
        "init_from": str(root / "codec_init"),
    }

    # feature matching divides by the mean |D(x)| of each rank's own batch (as audiocraft per GPU),
    # so it is not a per-item mean and N processes differ from 1 by design: weighted 0 here
    def job_for(w: int, tag: str) -> dict:
        p = CodecTrainParams(
            **LOOP,
            batch_size=GLOBAL_BATCH // w,
            disc_lr=3e-3,
            adv_start=1,
            crop_s=0.1,
            weights={"feat": 0.0},
            adv_loss="mse",
            disc_filters=2,
            disc_n_ffts=[128],
            mel_n_ffts=[128],
            n_mels=16,
            samples=1,
        )
        return _job("codec_train", p, root, "codec", tag, inputs)

    return "pipeline.codec.train_job:run_job", job_for


def _valle(root: Path) -> tuple:
    from pipeline.data.token_store import write_split
    from pipeline.params.valle import ValleTrainParams
    from pipeline.valle.midi_tokens import notes_to_tokens

    rng = np.random.default_rng(0)
    notes = [(t, 40, 60 + t % 12, 81) for t in range(0, 130, 30)]  # < 0.8 s of MIDI
    for split, n in (("train", 8), ("val", 2), ("test", 0)):
        # equal lengths: no padding, so each rank's mean is over as many frames as the other's
        labs = [{"id": f"{split}-{i}"} for i in range(n)]
        write_split(root / "valle" / "codes" / split, [(lab, rng.integers(0, 16, (2, 40))) for lab in labs])
        write_split(
            root / "valle" / "midi" / split,
            [(lab, notes_to_tokens([(t + 7 * i, d, p, v) for t, d, p, v in notes])) for i, lab in enumerate(labs)],
        )
    inputs = {
        "tokens": str(root / "valle"),
        "init": None,
        "codec": {"sample_rate": 16000, "frame_rate": 50.0, "n_q": 2, "bins": 16},
    }

    def job_for(w: int, tag: str) -> dict:
        p = ValleTrainParams(
            **LOOP,
            batch_size=GLOBAL_BATCH // w,
            max_frames=60,
            model_overrides={"d_model": 16, "nhead": 2, "n_layers": 1, "dropout": 0.0},
        )
        return _job("valle_train", p, root, "valle", tag, inputs)

    return "pipeline.valle.train_job:run_job", job_for


def _gnm(root: Path) -> tuple[tuple, tuple]:
    from pipeline.data.token_store import write_split
    from pipeline.gnm.vocab import Vocab
    from pipeline.params.gnm import GnmClassifierParams, GnmPretrainParams

    rng = np.random.default_rng(0)

    def piece(bars):
        out = ["Composer_None", "Tempo_80", "BOS_None"]
        for _ in range(bars):
            out += ["Bar_None", "Time_Signature_4/4"]
            for g in sorted(rng.choice(48, 3, replace=False)):
                out += [f"Beat_{g}", f"Note_Pitch_{int(rng.integers(40, 90))}", "Note_Duration_240"]
        return out + ["EOS_None"]

    tok = root / "gnm"
    pieces = {
        split: [(c, piece(4 + k)) for c in ("Bach", "Mozart", None) for k in range(n)]
        for split, n in (("train", 3), ("val", 1))
    }
    vocab = Vocab.build({t for ps in pieces.values() for _, toks in ps for t in toks}, ["Bach", "Mozart"])
    vocab.save(tok)
    for split, ps in pieces.items():
        write_split(
            tok / split,
            [
                ({"id": f"{split}{i}", "gnm_composer": c, "category": c or "folk"}, np.asarray(vocab.encode(t)))
                for i, (c, t) in enumerate(ps)
            ],
        )
    shape = {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "dropout": 0.0}

    def lm(w: int, tag: str) -> dict:
        p = GnmPretrainParams(
            **LOOP,
            batch_size=GLOBAL_BATCH // w,
            seq_len=24,
            augment=True,
            model=shape | {"d_word_embed": 16, "adapter_positions": []},
        )
        return _job(
            "gnm_pretrain",
            p,
            root,
            "gnm_lm",
            tag,
            {"mode": "generality", "tokens": str(tok), "category": "category", "composers": []},
        )

    def classifier(w: int, tag: str) -> dict:
        p = GnmClassifierParams(**LOOP, **shape, batch_size=GLOBAL_BATCH // w, seq_len=24, augment=True, eval_windows=1)
        return _job(
            "gnm_classifier", p, root, "gnm_classifier", tag, {"tokens": str(tok), "composers": ["Bach", "Mozart"]}
        )

    return ("pipeline.gnm.lm_job:run_job", lm), ("pipeline.gnm.classifier_job:run_job", classifier)


def _notagen(root: Path) -> tuple:
    from pipeline.params.notagen import AbcPretrainParams

    tok = root / "notagen"
    for split, n in (("train", 4), ("val", 2)):
        (tok / split).mkdir(parents=True)
        rows = [
            {"id": f"{split}{i}", "text": ABC.replace("A2 B2 c2 e2", ABC_VARIANTS[i]), "n_patches": 0} for i in range(n)
        ]
        (tok / split / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def job_for(w: int, tag: str) -> dict:
        p = AbcPretrainParams(
            **LOOP,
            batch_size=GLOBAL_BATCH // w,
            transposition="15keys",
            model_overrides={"hidden": 64, "patch_layers": 1, "char_layers": 1, "patch_length": 32, "dropout": 0.0},
        )
        return _job("abc_pretrain", p, root, "notagen", tag, {"tokens": str(tok), "keep_prompt": True})

    return "pipeline.notagen.train_job:run_job", job_for


def _clamp(root: Path) -> tuple:
    from pipeline.params.clamp import ClampTrainParams

    store = root / "clamp"
    for split, n in (("train", 4), ("val", 2)):
        (store / split).mkdir(parents=True)
        rows = [
            {"id": f"{split}{i}", "text": ABC.replace("A2 B2 c2 e2", ABC_VARIANTS[i]), "n_patches": 0} for i in range(n)
        ]
        (store / split / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (store / split / "labels.jsonl").write_text(
            "".join(json.dumps({"id": r["id"], "n_parts": 2}) + "\n" for r in rows)
        )

    def job_for(w: int, tag: str) -> dict:
        p = ClampTrainParams(
            **LOOP,
            batch_size=GLOBAL_BATCH // w,
            patch_size=32,
            patch_length=16,
            hidden=64,
            layers=1,
            proj=32,
            decoder_layers=1,
            text_len=64,
            text_hidden=32,
            text_layers=1,
            m3_steps=3,
            text_dropout=0.0,
        )
        return _job("clamp_train", p, root, "clamp", tag, {"store": str(store)})

    return "pipeline.clamp.train_job:run_job", job_for


def _dpo(root: Path) -> tuple:
    import torch

    from pipeline.notagen.checkpoint import save
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel
    from pipeline.params.clamp import AbcDpoParams

    torch.manual_seed(0)
    save(
        NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=32, dropout=0.0)).eval(),
        root / "dpo_policy",
    )
    texts = [ABC.replace("A2 B2 c2 e2", v) for v in ABC_VARIANTS[:4]]
    (root / "samples.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    inputs = {
        "policy": str(root / "dpo_policy"),
        "samples": str(root / "samples.jsonl"),
        "iteration": 1,
        "chosen": [0, 1],
        "rejected": [2, 3],
    }

    def job_for(w: int, tag: str) -> dict:
        p = AbcDpoParams(**(LOOP | {"lr": 1e-2, "weight_decay": 0.0}), batch_size=GLOBAL_BATCH // w)
        return _job("abc_dpo", p, root, "dpo", tag, inputs)

    return "pipeline.clamp.dpo_job:run_job", job_for


def fixtures(root: str | Path) -> dict[str, tuple]:
    """``{family: (entry, job_for(world, tag))}`` over tiny data written under ``root``."""
    root = Path(root)
    lm, cls = _gnm(root)
    return {
        "codec": _codec(root),
        "valle": _valle(root),
        "gnm_lm": lm,
        "gnm_classifier": cls,
        "notagen": _notagen(root),
        "clamp": _clamp(root),
        "dpo": _dpo(root),
    }


def history(job: dict) -> list[dict]:
    """The run's curve (rank 0's loss.csv): one row per step."""
    import csv

    with open(Path(job["report_dir"]) / "plots" / "loss.csv") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


# ----------------------------------------------------------------------------- the torchrun target
def _audit_writes(roots: list[str], log: list[str]):
    roots = tuple(os.path.realpath(r) for r in roots)

    def mine(path) -> bool:
        try:
            return os.path.realpath(os.fsdecode(path)).startswith(roots)
        except (TypeError, ValueError):
            return False

    def hook(event: str, args: tuple) -> None:
        if event == "open" and len(args) >= 3 and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1], args[2]
            writing = (
                any(c in mode for c in "wax+")
                if isinstance(mode, str)
                else bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            )
            if writing and mine(args[0]):
                log.append(f"open {os.fsdecode(args[0])}")
        elif event in ("os.rename", "os.replace", "os.mkdir", "os.remove", "shutil.rmtree") and args and mine(args[0]):
            log.append(f"{event} {os.fsdecode(args[0])}")

    sys.addaudithook(hook)


def run_all(jobs: list[list], writes_log: str) -> None:
    """Run each ``[family, entry, job]`` in turn in this process (under torchrun), all in ONE
    process group: the jobs' own ``setup`` finds it initialised and their ``cleanup`` is held back
    (re-creating the default group under one torchrun store is not reliable). A job that raises
    is logged and the next one runs, so a fault does not hide the other families;
    ``writes_log.<rank>.json`` gets the errors and, on ranks > 0, the audited writes."""
    import datetime
    import importlib
    import traceback

    import torch.distributed as dist

    from pipeline.train import distributed as D
    from pipeline.train.job import TrainJob

    rank = int(os.environ.get("RANK", 0))
    writes: list[str] = []
    if rank:
        _audit_writes([d for _, _, job in jobs for d in (job["model_dir"], job["report_dir"], job["ckpt_dir"])], writes)
    # a rank stuck in a collective after the other rank's fault gives up after 2 minutes, not 30
    dist.init_process_group("gloo", timeout=datetime.timedelta(minutes=2))
    cleanup, D.cleanup = D.cleanup, lambda: None
    errors = {}
    try:
        for family, entry, job in jobs:
            module, _, fn = entry.partition(":")
            try:
                getattr(importlib.import_module(module), fn)(TrainJob.from_json(job))
            except Exception:  # noqa: BLE001 - reported to the test, which fails on it
                errors[family] = traceback.format_exc()[-3000:]
    finally:
        D.cleanup = cleanup
        Path(f"{writes_log}.{rank}.json").write_text(json.dumps({"writes": writes, "errors": errors}))
        cleanup()
