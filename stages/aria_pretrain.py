"""DVC stage ``aria_pretrain``: the Aria LM from scratch on ``data/pack/aria`` (next-token cross-entropy).

Outputs ``models/aria_pretrain/`` (model.safetensors in the Aria key layout, config.json,
tokenizer.json) and ``reports/aria_pretrain/`` (metrics.json, plots/loss.csv). Checkpoints go to
``models/.ckpt/aria_pretrain/`` (outside the DVC output): a killed ``dvc repro`` resumes from the
last one when the training params are unchanged, and the directory is removed after commit.
With ``runtime.launcher: torchrun`` the training runs in ``runtime.nproc_per_node`` processes.
``aria_pretrain.init``: a released Aria .safetensors under ``weights/aria_pretrain/`` to train from
(its vocabulary must be the tokenizer's), or with ``steps: 0`` to import (pipeline/aria/released.py).
"""

from __future__ import annotations

import json

from prefect import flow

from pipeline.aria.lm import ENTRY
from pipeline.aria.released import import_init
from pipeline.config import repo_root
from pipeline.data.guards import check_same_tokenizer, require_pieces
from pipeline.orchestration.training import train_stage

MODEL, REPORT = "models/aria_pretrain", "reports/aria_pretrain"
PACK, TOKENIZER = "data/pack/aria", "data/tokens/aria/tokenizer.json"


@flow(name="aria_pretrain")
def pretrain() -> None:
    root = repo_root()
    meta = json.loads((root / PACK / "meta.json").read_text())
    require_pieces(f"{PACK} train split", meta["splits"]["train"]["pieces"], "data/tokens/aria/rejected.jsonl")
    tokenizer = json.loads((root / TOKENIZER).read_text())
    check_same_tokenizer(meta["config_hash"], tokenizer["config_hash"], PACK, "rerun pack")
    train_stage(
        "aria_pretrain",
        ENTRY,
        model=MODEL,
        report=REPORT,
        deps=[PACK, TOKENIZER],
        inputs={"pack": str(root / PACK), "tokenizer": tokenizer},
        import_init=import_init,
        manifest={"tokenizer_hash": tokenizer["config_hash"]},
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(pretrain)
