"""DVC stage ``aria_finetune``: generative fine-tune of the pretrained Aria LM on a metadata subset.

The pieces of ``data/tokens/aria/{train,val}`` whose labels match ``aria_finetune.filters`` (e.g.
``{period: [baroque, classical]}``) are packed in memory at the pretrained model's context
length, then trained on with the same loop and schedule as pretraining (as upstream).
Outputs ``models/aria_finetune/`` and ``reports/aria_finetune/`` like ``aria_pretrain``; checkpoints
go to ``models/.ckpt/aria_finetune/`` and survive a killed run. ``aria_finetune.init``: a released
Aria .safetensors under ``weights/aria_finetune/`` instead of the pretrained model; with ``steps: 0``
imported as this stage's model (pipeline/aria/released.py).
"""

from __future__ import annotations

import json

from prefect import flow

from pipeline.aria.lm import ENTRY
from pipeline.aria.released import import_init
from pipeline.config import repo_root
from pipeline.data.guards import check_same_tokenizer
from pipeline.orchestration.training import train_stage

MODEL, REPORT = "models/aria_finetune", "reports/aria_finetune"
PRETRAIN, TOKENS = "models/aria_pretrain", "data/tokens/aria"


@flow(name="aria_finetune")
def finetune() -> None:
    root = repo_root()
    pre = json.loads((root / PRETRAIN / "config.json").read_text())
    tokenizer = json.loads((root / TOKENS / "tokenizer.json").read_text())
    check_same_tokenizer(pre["tokenizer_hash"], tokenizer["config_hash"], PRETRAIN, "rerun aria_pretrain")
    train_stage(
        "aria_finetune",
        ENTRY,
        model=MODEL,
        report=REPORT,
        deps=[PRETRAIN, TOKENS],
        inputs={
            "tokens": str(root / TOKENS),
            "tokenizer": tokenizer,
            "seq_len": pre["model"]["max_seq_len"],
            "init_from": str(root / PRETRAIN / "model.safetensors"),
        },
        import_init=import_init,
        manifest={"tokenizer_hash": tokenizer["config_hash"]},
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(finetune)
