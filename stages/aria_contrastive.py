"""DVC stage ``aria_contrastive``: the pretrained Aria LM -> an embedding model (SimCSE-style finetune).

Two random slices of one training piece (``slice_notes`` notes each, at most ``max_tokens``
tokens, ``<E>`` forced at the end) are embedded at ``<E>`` by a ``TransformerEMB`` whose trunk is
copied from ``models/aria_pretrain`` (``emb_head`` new); the loss is symmetric InfoNCE over the
batch (``pipeline/train/contrastive.py``) in the one training loop (``pipeline/aria/contrastive.py``).
Outputs ``models/aria_contrastive/`` (model.safetensors with ``emb_head.weight``, config.json,
tokenizer.json) and ``reports/aria_contrastive/`` (metrics.json, plots/loss.csv, unreadable.json).
Checkpoints go to ``models/.ckpt/aria_contrastive/`` (resumable, removed after commit).
``aria_contrastive.init``: released weights under ``weights/aria_contrastive/`` (an embedding model
continues, an LM gives its trunk); with ``steps: 0`` an embedding model is imported (pipeline/aria/released.py).
"""

from __future__ import annotations

import json

from prefect import flow

from pipeline.aria.contrastive import ENTRY
from pipeline.aria.released import import_init
from pipeline.config import repo_root
from pipeline.data.guards import count_split, require_pieces
from pipeline.data.jsonl import read_jsonl
from pipeline.orchestration.training import train_stage

MODEL, REPORT = "models/aria_contrastive", "reports/aria_contrastive"
PRETRAIN, INGEST = "models/aria_pretrain", "data/ingest"


@flow(name="aria_contrastive")
def contrastive() -> None:
    root = repo_root()
    tokenizer = json.loads((root / PRETRAIN / "tokenizer.json").read_text())
    require_pieces(f"{INGEST}/index.jsonl train split", count_split(read_jsonl(root / INGEST / "index.jsonl"), "train"))
    train_stage(
        "aria_contrastive",
        ENTRY,
        model=MODEL,
        report=REPORT,
        deps=[PRETRAIN, INGEST],
        inputs={
            "ingest": str(root / INGEST),
            "init_from": str(root / PRETRAIN / "model.safetensors"),
            "tokenizer": tokenizer,
        },
        import_init=import_init,
        manifest={"tokenizer_hash": tokenizer.get("config_hash")},
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(contrastive)
