"""DVC stage ``contrastive``: the pretrained Aria LM -> an embedding model (SimCSE-style finetune).

Two random slices of one training piece (``contrastive.slice_notes`` notes each, at most
``max_tokens`` tokens, ``<E>`` forced at the end) are embedded at ``<E>`` by a ``TransformerEMB``
whose trunk is copied from ``models/aria_pretrain`` (``emb_head`` new); the loss is symmetric InfoNCE
over the batch (``pipeline/train/contrastive.py``) in the one training loop.
Outputs ``models/aria_contrastive/`` (model.safetensors with ``emb_head.weight``, config.json,
tokenizer.json) and ``reports/aria_contrastive/`` (metrics.json, plots/loss.csv, unreadable.json).
Checkpoints go to ``models/.ckpt/aria_contrastive/`` (resumable, removed after commit).
"""

from __future__ import annotations

import json
import time

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.guards import count_split, require_pieces
from pipeline.data.jsonl import read_jsonl
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.aria.contrastive import ENTRY
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import run_training, train_config

MODEL, REPORT, PRETRAIN, INGEST = "models/aria_contrastive", "reports/aria_contrastive", "models/aria_pretrain", "data/ingest"
CKPT = "models/.ckpt/aria_contrastive"


@flow(name="aria_contrastive")
def contrastive() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    base, p, rt, root = load_section("base"), load_section("aria_contrastive"), load_section("runtime"), repo_root()
    tokenizer = json.loads((root / PRETRAIN / "tokenizer.json").read_text())
    require_pieces(f"{INGEST}/index.jsonl train split", count_split(read_jsonl(root / INGEST / "index.jsonl"), "train"))
    train = train_config(p, base.seed, rt.device)
    with StageOutputs("aria_contrastive", [MODEL, REPORT]) as out:
        job = {"ingest": str(root / INGEST), "init_from": str(root / PRETRAIN / "model.safetensors"),
               "tokenizer": tokenizer, "emb_size": p.emb_size, "temperature": p.temperature,
               "slice_notes": list(p.slice_notes), "max_tokens": p.max_tokens, "augment": p.augment,
               "batch_size": p.batch_size, "train": train, "ckpt_dir": str(root / CKPT),
               "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "pretrain": hash_path(root / PRETRAIN),
                               "ingest": hash_path(root / INGEST / "index.jsonl")}}
        log.info("contrastive: %d steps x %d pairs, slices %s notes, <= %d tokens, temperature %g, lr %g, "
                 "augment %s, launcher %s x%d", p.steps, p.batch_size, list(p.slice_notes), p.max_tokens,
                 p.temperature, p.lr, p.augment, rt.launcher, rt.nproc_per_node)
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        out.commit(params_dump("base", "aria_contrastive"), inputs=[PRETRAIN, INGEST], seed=base.seed,
                   extra={"metrics": metrics, "tokenizer_hash": tokenizer.get("config_hash")})
    ckpt.clear(root / CKPT)
    log.info("contrastive: %s (%.1f s)", metrics, time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(contrastive)
