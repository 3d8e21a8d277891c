"""DVC stage ``abc_pretrain``: the NotaGen patch model from scratch on ``data/tokens/abc`` texts.

Upstream's pretraining data: interleaved ABC without the prompt lines, rest-reduced, one of 15 key
signatures per item (abctoolkit), cropped at line starts to the patch context (metadata kept).
Outputs ``models/abc_pretrain/`` (model.safetensors in upstream's key layout, config.json,
prompts.json) and ``reports/abc_pretrain/`` (metrics.json with the held-out per-character
perplexity, plots/loss.csv, quarantine.jsonl, parity.json: our writer against abctoolkit).
Checkpoints go to ``models/.ckpt/abc_pretrain/`` (a killed run resumes there), removed after commit.
``abc_pretrain.init``: a released NotaGen .pth under ``weights/abc_pretrain/`` to train from, or with
``steps: 0`` to import as this stage's model (pipeline/notagen/released.py).
"""

from __future__ import annotations

from prefect import flow

from pipeline.config import repo_root
from pipeline.notagen.pretrain_report import write_pretrain_report
from pipeline.notagen.released import import_init
from pipeline.notagen.train_job import ENTRY
from pipeline.orchestration.training import train_stage

MODEL, REPORT, TOKENS = "models/abc_pretrain", "reports/abc_pretrain", "data/tokens/abc"


@flow(name="abc_pretrain")
def abc_pretrain() -> None:
    root = repo_root()
    train_stage(
        "abc_pretrain",
        ENTRY,
        model=MODEL,
        report=REPORT,
        deps=[TOKENS],
        inputs={"tokens": str(root / TOKENS), "keep_prompt": False},  # pretraining drops the prompt lines
        import_init=import_init,
        finish=lambda out, metrics: write_pretrain_report(out[REPORT], root / TOKENS, metrics),
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_pretrain)
