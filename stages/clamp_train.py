"""DVC stage ``clamp_train``: the CLaMP-style scorer the DPO loop and the score table use.

M3 masked-patch pretraining on the interleaved-ABC corpus (``data/tokens/abc``), then CLaMP
alignment with a text tower over each piece's metadata (pipeline/clamp/train_job.py).
Outputs ``models/clamp_train/`` (clamp.pth, m3.pth in upstream's layout, config.json) and
``reports/clamp_train/`` (metrics.json, plots/loss.csv, m3/). ``clamp_train.init``: a released
CLaMP 2 / M3 .pth under ``weights/clamp_train/`` to fine-tune, or with ``steps: 0`` to import as
the scorer abc_dpo and abc_score_table use (pipeline/clamp/released.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.clamp.released import import_init
from pipeline.clamp.train_job import ENTRY
from pipeline.config import repo_root
from pipeline.orchestration.training import train_stage

MODEL, REPORT, STORE = "models/clamp_train", "reports/clamp_train", "data/tokens/abc"


@flow(name="clamp_train")
def clamp_train() -> None:
    metrics = train_stage(
        "clamp_train",
        ENTRY,
        model=MODEL,
        report=REPORT,
        deps=[STORE],
        inputs={"store": str(repo_root() / STORE)},
        import_init=import_init,
    )
    get_run_logger().info("clamp_train: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(clamp_train)
