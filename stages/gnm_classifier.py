"""DVC stage ``gnm_classifier``: the style classifier (upstream's encoder, logits from position 0)
trained on real pieces of the mastery composers, validated on their held-out pieces.

Outputs ``models/gnm_classifier/`` (params.pt in upstream's classifier layout, config.json with the
class order, vocab.json, dictionary.pkl) and ``reports/gnm_classifier/`` (metrics.json with the
held-out accuracy, heldout.json with the confusion matrix, plots/loss.csv).
``gnm_classifier.init``: upstream's classifier .pt under ``weights/gnm_classifier/``; with ``steps: 0``
the classifier gnm_eval scores with (pipeline/gnm/released.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.config import repo_root
from pipeline.gnm.classifier_job import ENTRY
from pipeline.gnm.released import import_init
from pipeline.gnm.tokens import TOKENS, events_meta
from pipeline.orchestration.training import train_stage

MODEL, REPORT = "models/gnm_classifier", "reports/gnm_classifier"


@flow(name="gnm_classifier")
def gnm_classifier() -> None:
    meta = events_meta("gnm_classifier")
    inputs = {"tokens": str(repo_root() / TOKENS), "composers": meta["mastery_composers"]}
    metrics = train_stage(
        "gnm_classifier",
        ENTRY,
        model=MODEL,
        report=REPORT,
        inputs=inputs,
        deps=[TOKENS],
        manifest={"vocab_hash": meta["vocab_hash"]},
        import_init=import_init,
    )
    get_run_logger().info("gnm_classifier: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_classifier)
