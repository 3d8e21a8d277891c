"""Assemble the report site: ``<site>/index.html`` (results first: the cross-generator table when
``eval_generators`` has run, one section per family, then
every stage's metrics in one table) and ``<site>/stages.html`` (the DAG and every file of every
stage), plus ``assets/`` (copied images, audio, MIDI), ``plots/`` (rendered curves) and
``rolls/`` (piano rolls for MIDI without an image).

All links are relative, so the folder opens from ``file://`` and can be copied anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.params.report import ReportParams
from pipeline.report import dag, generators
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
    table = root / generators.TABLE
    audio = root / generators.AUDIO
    audio = json.loads(audio.read_text()) if audio.is_file() else None
    lead = generators.generators_section(root, assets, json.loads(table.read_text()), audio) if table.is_file() else ""
    index = index_html(
        assets,
        p.title,
        families,
        dag.declared_metrics(root / "dvc.yaml"),
        len(stages),
        p.max_samples,
        p.max_table_rows,
        lead,
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
