"""DVC stage ``abc_score_table``: NotaGen's table per CLaMP-DPO iteration K (pipeline/clamp/score_table.py).

Reads every round of ``data/abc_dpo/samples_k`` (pieces sampled from policy k), the policies
(``models/abc_finetune`` for K = 0, ``models/abc_dpo/iter_k``), the scorer and the token store.
Writes ``reports/abc_score_table/``: table.json, metrics.json, plots/score_curve.png (the score
over K with the ground truth and upstream's anchors), samples/ (per K the best-scoring sample that
passes the checks, else the best complete one, as ABC, MusicXML, MIDI and audio) and headline.json.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from pipeline.clamp.score_table import calibrated_plagiarism, write_score_table
from pipeline.clamp.table import COLUMNS
from pipeline.config import load_section, repo_root
from pipeline.notagen.samples_contract import write_score_table_contract
from pipeline.orchestration.stage import StageOutputs, params_dump

REPORT, DPO_DATA, DPO_MODELS = "reports/abc_score_table", "data/abc_dpo", "models/abc_dpo"
FINETUNE, SCORER, STORE = "models/abc_finetune", "models/clamp_train", "data/tokens/abc"


@flow(name="abc_score_table")
def abc_score_table() -> None:
    t0 = time.perf_counter()
    p, root = load_section("abc_score_table"), repo_root()
    plag = calibrated_plagiarism(root / DPO_DATA, load_section("abc_dpo").plagiarism)
    with StageOutputs("abc_score_table", [REPORT]) as out:
        table = write_score_table(
            out[REPORT],
            p,
            plag,
            dpo_data=root / DPO_DATA,
            dpo_models=root / DPO_MODELS,
            finetune=root / FINETUNE,
            scorer=root / SCORER,
            store=root / STORE,
        )
        write_score_table_contract(out[REPORT])  # the samples contract eval_generators reads
        out.commit(
            params_dump("abc_score_table"), inputs=[DPO_DATA, DPO_MODELS, SCORER, STORE], extra={"plagiarism": plag}
        )
    get_run_logger().info(
        "abc_score_table: %s (%.1f s)", [dict(zip(COLUMNS, row)) for row in table], time.perf_counter() - t0
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_score_table)
