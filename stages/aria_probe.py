"""DVC stage ``aria_probe``: linear probes of every embedder of ``data/aria_embed`` on every task,
plus the retrieval check (the work is ``pipeline/aria/probe.py``).
Outputs ``reports/aria_probe/``: metrics.json (``dvc metrics show``), results.json (everything),
table.md (every embedder on every task, with CIs, and the retrieval check),
confusion/<task>__<embedder>.png, headline.json (the same tables for the report's Aria section).
"""

from __future__ import annotations

from prefect import flow

from pipeline.aria.probe import probe_embeddings
from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT, EMBED = "reports/aria_probe", "data/aria_embed"


@flow(name="aria_probe")
def linear_probe() -> None:
    p, root = load_section("aria_probe"), repo_root()
    extra_metadata = root / p.extra_metadata if p.extra_metadata else None
    with StageOutputs("aria_probe", [OUT]) as out:
        extra = probe_embeddings(root / EMBED, EMBED, p, out[OUT], extra_metadata)
        out.commit(params_dump("aria_probe"), inputs=[EMBED], seed=p.seed, extra={"extra_metadata": extra})


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(linear_probe)
