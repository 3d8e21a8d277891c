"""``train_stage``: everything a training stage does besides its own pre-checks.

A training stage is a Prefect flow that checks its inputs, then makes one call:

    metrics = train_stage("aria_pretrain", ENTRY, model=MODEL, report=REPORT,
                          inputs={"pack": str(root / PACK)}, deps=[PACK, TOKENIZER])

which loads the sections, opens the outputs (temp dirs renamed into place on commit), builds the
typed :class:`~pipeline.train.job.TrainJob`, runs it here or under torchrun, lets ``finish``
write what needs the metrics (a headline), commits the manifests and clears the checkpoints.

A section with ``init`` (released weights, pipeline/train/released.py) adds that file to the
inputs (fingerprint, manifest) and to ``job.inputs["init"]``; with ``steps: 0`` the stage calls the
family's ``import_init(job)`` instead of training and skips ``finish``.
"""

from __future__ import annotations

from typing import Any, Callable

from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import TrainJob, run_training
from pipeline.train.loop import run_logger
from pipeline.train.released import ImportInit, import_model, resolve_init

Finish = Callable[[StageOutputs, dict], dict | None]


def train_stage(
    stage: str,
    entry: str,
    *,
    report: str,
    model: str | None = None,
    inputs: dict[str, Any] | None = None,
    deps: list[str] = (),
    manifest: dict[str, Any] | None = None,
    finish: Finish | None = None,
    import_init: ImportInit | None = None,
) -> dict:
    """Train ``stage`` with ``entry`` ("package.module:run_job"); return its metrics.

    ``deps``: repo-relative input paths, hashed into the resume fingerprint and the manifest.
    ``inputs``: what the worker reads besides its params (JSON-able). ``finish(out, metrics)`` runs
    before the commit and may return more manifest entries. ``import_init(job)``: the family's
    conversion of ``<stage>.init`` for ``steps: 0``."""
    log = run_logger()
    base, p, rt, root = load_section("base"), load_section(stage), load_section("runtime"), repo_root()
    init = resolve_init(stage, getattr(p, "init", None), root, list(deps))
    deps = [*deps, *([init] if init and init not in deps else [])]
    inputs = {**(inputs or {}), **({"init": str(root / init)} if init else {})}
    ckpt_dir = root / "models" / ".ckpt" / stage
    with StageOutputs(stage, [o for o in (model, report) if o]) as out:
        job = TrainJob(
            stage=stage,
            p=p,
            seed=base.seed,
            device=rt.device,
            ckpt_dir=ckpt_dir,
            model_dir=out[model] if model else None,
            report_dir=out[report],
            inputs=inputs,
            fingerprint={"params": p.model_dump(mode="json"), **{d: hash_path(root / d) for d in deps}},
        )
        origin = {"init": {"path": init, "hash": job.fingerprint[init]}} if init else {}
        if p.steps == 0:
            log.info("%s: steps 0, importing %s", stage, init)
            metrics, more = import_model(job, import_init), None
        else:
            log.info("%s: %d steps, launcher %s x%d", stage, p.steps, rt.launcher, rt.nproc_per_node)
            metrics = run_training(entry, job, rt.launcher, rt.nproc_per_node)
            more = finish(out, metrics) if finish else None
        out.commit(
            params_dump("base", stage),
            inputs=list(deps),
            seed=base.seed,
            extra={"metrics": metrics, **origin, **(manifest or {}), **(more or {})},
        )
    ckpt.clear(ckpt_dir)
    return metrics
