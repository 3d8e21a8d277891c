"""Assemble the report site: ``<site>/index.html`` (results first: one section per family, then
every stage's metrics in one table) and ``<site>/stages.html`` (the DAG and every file of every
stage), plus ``assets/`` (copied images, audio, MIDI), ``plots/`` (rendered curves) and
``rolls/`` (piano rolls for MIDI without an image).

All links are relative, so the folder opens from ``file://`` and can be copied anywhere.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.params.report import ReportParams
from pipeline.report import dag
from pipeline.report.assets import Assets
from pipeline.report.collect import scan_reports
from pipeline.report.families import group_families
from pipeline.report.results import index_html
from pipeline.report.stages_page import stages_html


def build_site(root: Path, site: Path, p: ReportParams | None = None) -> dict:
    """Write the report for the repo at ``root`` into ``site`` (created); returns counts."""
    p = p or ReportParams()
    root, site = Path(root), Path(site)
    site.mkdir(parents=True, exist_ok=True)
    stages = dag.load_stages(root / "dvc.yaml")
    reports = scan_reports(root / "reports", dag.report_outs(stages))
    families = group_families(reports, stages)
    assets = Assets(site)
    index = index_html(
        assets, p.title, families, dag.declared_metrics(root / "dvc.yaml"), len(stages), p.max_samples, p.max_table_rows
    )
    (site / "index.html").write_text(index)
    (site / "stages.html").write_text(stages_html(assets, p.title, stages, reports, p.max_samples, p.max_table_rows))
    return {
        "stages": len(stages),
        "report_dirs": len(reports),
        "families": len(families),
        "headlines": sum(r.headline is not None for r in reports),
        **{k: assets.counts[k] for k in ("images", "curves", "samples", "audio")},
    }
