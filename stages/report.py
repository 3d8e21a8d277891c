"""DVC stage ``report``: one static HTML site over every ``reports/<stage>/`` dir.

Outputs ``reports/site/``: index.html (results first: one section per family from the stages'
``headline.json`` files, learning curves, every stage's metrics in one table), stages.html (the
DAG and every file of every stage), assets/, plots/, rolls/. See docs/report.md. The site cannot live at
``reports/index.html``: ``reports/`` holds other stages' outs and DVC outs must not overlap,
so open ``reports/site/index.html`` (from file://, no server, no internet needed).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.report.dag import present_report_outs
from pipeline.report.site import build_site

OUT = "reports/site"


@flow(name="report")
def report() -> None:
    log = get_run_logger()
    p, root = load_section("report"), repo_root()
    with StageOutputs("report", [OUT]) as out:
        counts = build_site(root, out[OUT], p)
        out.commit(params_dump("report"), inputs=present_report_outs(root), extra={"counts": counts})
    log.info("report: %s -> %s", counts, root / OUT / "index.html")


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(report)
