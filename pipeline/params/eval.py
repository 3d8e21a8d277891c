"""Params of the cross-generator evaluation (stages/eval_generators.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.params.base import Section


class EvalGeneratorsParams(Section):
    """One table over every generator's ``samples.json`` against the held-out corpus pieces."""

    # samples contracts, repo-relative (pipeline/eval/samples_contract.py); one row per family + label
    sources: list[str] = [
        "reports/aria_generate/samples.json",
        "reports/gnm_generate/samples.json",
        "reports/abc_score_table/samples.json",
    ]
    # style classifiers' verdicts on composer-conditioned rows (samples_contract.write_style_predictions)
    style_sources: list[str] = [
        "reports/gnm_eval/style_predictions.json",
        "reports/gnm_style_foreign/style_predictions.json",
    ]
    reference_splits: list[str] = ["test", "val"]  # data/ingest/index.jsonl splits that are held out
    scorer: str = "models/clamp_train"  # a CLaMP .pth or a folder holding clamp.pth
    bootstrap: int = Field(200, ge=10)  # resamples per cell (FMD-Inf: a tenth, at least 10)
    estimator: Literal["mle", "shrinkage", "oas", "ledoit_wolf", "bootstrap"] = "oas"  # pipeline/eval/frechet.py
    seed: int = 0  # reference split, sanity rows and bootstrap


class ValleRenderGeneratorsParams(Section):
    """One sample per generator row rendered by VALL-E and FluidSynth in a held-out recording's
    condition, FAD against the real recordings (stages/valle_render_generators.py). Rows: the
    contracts of ``eval_generators.sources``; prompt and sampling: ``valle_synthesize``'s."""

    seconds: float = Field(8.0, gt=0, le=60)  # of each row's first sample
