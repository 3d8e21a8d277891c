"""DVC stage ``gnm_eval``: the GnM style table and objective metrics (pipeline/gnm/evaluate.py).

The style classifier (models/gnm_classifier) labels every generated piece; per model the
confusion matrix and style accuracy, pitch-class entropy and grooving similarity of generated vs
real held-out pieces. ``reports/gnm_eval/``: metrics.json, style.json, confusion PNGs,
headline.json (the paper-shaped table + samples), style_predictions.json (GnM's own verdicts per
generator row, for eval_generators; its verdicts on the other families' rows are the
``gnm_style_foreign`` stage's, so that this table never waits on another family's chain).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.gnm.evaluate import evaluate
from pipeline.gnm.samples_contract import write_gnm_style
from pipeline.gnm.tokens import TOKENS
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT, GEN, CLS = "reports/gnm_eval", "reports/gnm_generate", "models/gnm_classifier"


@flow(name="gnm_eval")
def gnm_eval() -> None:
    base, p, root = load_section("base"), load_section("gnm_eval"), repo_root()
    with StageOutputs("gnm_eval", [OUT]) as out:
        metrics = evaluate(root / GEN, root / CLS, root / TOKENS, p, base.seed, out[OUT])
        write_gnm_style(out[OUT], CLS)  # the style verdicts eval_generators reads
        out.commit(params_dump("base", "gnm_eval"), inputs=[GEN, CLS, TOKENS], seed=base.seed)
    get_run_logger().info("gnm_eval: %s", metrics["style"])


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_eval)
