"""DVC stage ``abc_dpo``: K CLaMP-DPO iterations of the fine-tuned NotaGen model (pipeline/clamp/dpo_rounds.py).

Round k (0..K) samples pieces for the most frequent fine-tune prompts from policy k (k = 0:
``models/abc_finetune``) and scores them with ``models/clamp_train`` (``data/abc_dpo/samples_k/``);
for k < K, policy k+1 is trained with DPO-Positive on round k's preference set
(``models/abc_dpo/iter_{k+1}/``). Outs ``data/abc_dpo`` and ``models/abc_dpo`` are ``persist: true``:
every unit carries the fingerprint of what it was made from, so raising K from 2 to 3 only builds
iteration 3 (and round 3), and a killed run resumes inside the unit it was building (partial samples,
DPO checkpoints under ``models/.ckpt/abc_dpo/``). ``reports/abc_dpo`` holds the scores and DPO curves.
"""

from __future__ import annotations

from prefect import flow

from pipeline.clamp.dpo_rounds import DpoPaths, run_dpo
from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, params_dump

DATA, MODELS, REPORT = "data/abc_dpo", "models/abc_dpo", "reports/abc_dpo"
FINETUNE, SCORER, STORE = "models/abc_finetune", "models/clamp_train", "data/tokens/abc"
CKPT = "models/.ckpt/abc_dpo"


@flow(name="abc_dpo")
def abc_dpo() -> None:
    base, p, rt, root = load_section("base"), load_section("abc_dpo"), load_section("runtime"), repo_root()
    paths = DpoPaths(
        root=root,
        data=root / DATA,
        models=root / MODELS,
        finetune=root / FINETUNE,
        scorer=root / SCORER,
        store=root / STORE,
        ckpt=root / CKPT,
    )
    params = params_dump("base", "abc_dpo")
    with StageOutputs("abc_dpo", [REPORT]) as out:
        summary = run_dpo(p, base.seed, rt, paths, out[REPORT], params)
        out.commit(params, inputs=[FINETUNE, SCORER, STORE], seed=base.seed, extra={"summary": summary})


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_dpo)
