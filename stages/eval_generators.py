"""DVC stage ``eval_generators``: one table over every symbolic generator the DAG trains.

Reads each generating stage's ``samples.json`` (``eval_generators.sources``; the contract:
pipeline/eval/samples_contract.py) and the real corpus pieces of ``reference_splits`` (held-out by default) of
data/ingest), scores them with the CLaMP scorer (``scorer``): FMD, FMD-Inf, note statistics,
validity, with the real-vs-real ceiling and two sanity rows (pipeline/eval/generator_table.py);
style accuracy of composer-conditioned rows from families' ``style_sources`` (pipeline/eval/style_table.py).
Outputs ``reports/eval_generators/``: table.json, table.md, metrics.json. Docs: docs/evaluation.md.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.clamp import load, mtf
from pipeline.config import load_section, repo_root
from pipeline.eval.generator_table import Scorer, generator_table, held_out_midi, write_generator_report
from pipeline.eval.metric_table import TableConfig
from pipeline.eval.samples_contract import read_contract, read_style_predictions
from pipeline.eval.style_table import style_rows
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT, INGEST = "reports/eval_generators", "data/ingest"


@flow(name="eval_generators")
def eval_generators() -> None:
    p, root = load_section("eval_generators"), repo_root()
    scorer_path = root / p.scorer / "clamp.pth" if (root / p.scorer).is_dir() else root / p.scorer
    clamp = load(scorer_path)
    contracts = [read_contract(root / s) for s in p.sources]
    cfg = TableConfig(n_boot=p.bootstrap, n_boot_inf=max(10, p.bootstrap // 10), estimator=p.estimator, seed=p.seed)
    with StageOutputs("eval_generators", [OUT]) as out:
        table = generator_table(
            contracts,
            held_out_midi(root / INGEST, p.reference_splits),
            Scorer(clamp.music_features, mtf),
            cfg,
            root=root,
        )
        styles = [read_style_predictions(root / s) for s in p.style_sources]
        table.update(scorer=str(scorer_path.relative_to(root)), style=style_rows(styles, p.bootstrap, p.seed))
        metrics = write_generator_report(table, out[OUT])
        out.commit(
            params_dump("eval_generators"),
            inputs=[*(s.rsplit("/", 1)[0] for s in p.sources + p.style_sources), INGEST, p.scorer],
            seed=p.seed,
        )
    get_run_logger().info("eval_generators: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(eval_generators)
