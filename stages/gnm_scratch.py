"""DVC stage ``gnm_scratch``: the scratch baseline: the generality shape (params
gnm_pretrain.model, no adapters) trained fresh on the mastery composers' pieces only.

See pipeline/gnm/lm_job.py. Outputs ``models/gnm_scratch/`` (params.pt in upstream's state-dict
layout, config.json, vocab.json, dictionary.pkl) and ``reports/gnm_scratch/`` (metrics.json,
plots/loss.csv); checkpoints in ``models/.ckpt/gnm_scratch/`` let a killed repro resume.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.config import load_section
from pipeline.gnm.lm_job import ENTRY, lm_inputs
from pipeline.gnm.tokens import TOKENS, events_meta
from pipeline.orchestration.training import train_stage

MODEL, REPORT = "models/gnm_scratch", "reports/gnm_scratch"


@flow(name="gnm_scratch")
def gnm_scratch() -> None:
    meta = events_meta("gnm_scratch")
    shape = load_section("gnm_pretrain").model.model_dump(mode="json")  # the generality shape
    inputs = lm_inputs("scratch", meta, model=shape)
    metrics = train_stage(
        "gnm_scratch",
        ENTRY,
        model=MODEL,
        report=REPORT,
        inputs=inputs,
        deps=[TOKENS],
        manifest={"vocab_hash": meta["vocab_hash"]},
    )
    get_run_logger().info("gnm_scratch: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_scratch)
