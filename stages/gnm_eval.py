"""DVC stage ``gnm_eval``: the GnM style table and objective metrics (pipeline/gnm/evaluate.py).

The style classifier (models/gnm_classifier) labels every generated piece; per model the
confusion matrix and style accuracy, pitch-class entropy and grooving similarity of generated vs
real held-out pieces. ``reports/gnm_eval/``: metrics.json, style.json, confusion PNGs,
headline.json (the paper-shaped table + samples), style_predictions.json (the verdicts per
generator row, for eval_generators): GnM's rows and the composer-prompted rows of the other
families' samples.json (pipeline/gnm/foreign_style.py; foreign_style.json lists each sample's
verdict or why GnM could not encode it). Aria is not a source: it is not trained with composer
prefixes, so its samples carry no composer and its row has no style cell.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.gnm.evaluate import evaluate
from pipeline.gnm.foreign_style import classify_foreign
from pipeline.gnm.samples_contract import write_gnm_style
from pipeline.gnm.tokens import TOKENS, events_meta
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT, GEN, CLS = "reports/gnm_eval", "reports/gnm_generate", "models/gnm_classifier"
FOREIGN = ("reports/abc_score_table",)  # samples.json of other families, composer-prompted rows get style


@flow(name="gnm_eval")
def gnm_eval() -> None:
    base, p, root = load_section("base"), load_section("gnm_eval"), repo_root()
    with StageOutputs("gnm_eval", [OUT]) as out:
        metrics = evaluate(root / GEN, root / CLS, root / TOKENS, p, base.seed, out[OUT])
        sources = {f: root / f / "samples.json" for f in FOREIGN}
        pickup = events_meta("gnm_eval").get("pickup", "upstream")  # encode as the classifier's data was
        foreign = classify_foreign(sources, root / CLS, p.windows, base.seed, pickup, out[OUT])
        write_gnm_style(out[OUT], CLS, foreign)  # the style verdicts eval_generators reads
        out.commit(params_dump("base", "gnm_eval"), inputs=[GEN, CLS, TOKENS, *FOREIGN], seed=base.seed)
    get_run_logger().info("gnm_eval: %s", metrics["style"])


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_eval)
