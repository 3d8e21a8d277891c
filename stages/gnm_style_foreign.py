"""DVC stage ``gnm_style_foreign``: GnM's style classifier (models/gnm_classifier) on the other
families' composer-prompted samples (NotaGen's ``reports/abc_score_table/samples.json``), composers
mapped to classes by surname, the MIDI through GnM's encoder (pipeline/gnm/foreign_style.py).
A stage of its own so that GnM's table (gnm_eval) never waits on NotaGen's chain, which a corpus of
MIDI only cannot build. ``reports/gnm_style_foreign/``: foreign_style.json (each sample's verdict,
or why GnM could not encode it) and style_predictions.json (for eval_generators' style column).
Aria is not a source: it is not trained with composer prefixes, so its samples carry no composer.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.gnm.foreign_style import write_foreign_style
from pipeline.gnm.tokens import TOKENS, events_meta
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT, CLS = "reports/gnm_style_foreign", "models/gnm_classifier"
FOREIGN = ("reports/abc_score_table",)  # samples.json of other families, composer-prompted rows get style


@flow(name="gnm_style_foreign")
def gnm_style_foreign() -> None:
    base, p, root = load_section("base"), load_section("gnm_eval"), repo_root()
    pickup = events_meta("gnm_style_foreign").get("pickup", "upstream")  # encode as the classifier's data was
    with StageOutputs("gnm_style_foreign", [OUT]) as out:
        sources = {f: root / f / "samples.json" for f in FOREIGN}
        path = write_foreign_style(sources, root / CLS, CLS, p.windows, base.seed, pickup, out[OUT])
        out.commit(params_dump("base", "gnm_eval"), inputs=[CLS, TOKENS, *FOREIGN], seed=base.seed)
    get_run_logger().info("gnm_style_foreign: %s", path.name)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_style_foreign)
