"""The second page, ``stages.html``: the pipeline DAG and everything every stage wrote (metrics
and stats JSON as tables, markdown, CSV tables, every curve, figures, samples, manifests), for
whoever needs more than the results page shows."""

from __future__ import annotations

import re
from html import escape

from pipeline.report import dag
from pipeline.report.assets import Assets
from pipeline.report.collect import Sample, StageReport
from pipeline.report.html import json_html, kv_table, page, table
from pipeline.report.markdown import to_html

INDEX = "index.html"


def slug(text: str) -> str:
    """An id safe in any attribute and URL fragment (``tokens/aria`` -> ``tokens-aria``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


def anchor(rep: StageReport) -> str:
    return "report-" + slug(rep.name)


def headline_anchor(rep: StageReport) -> str:
    return "headline-" + slug(rep.name)


def stage_link(rep: StageReport, page_name: str = "stages.html") -> str:
    return f"{page_name}#{anchor(rep)}"


def pipeline_section(stages: list[dag.Stage], reports: list[StageReport]) -> str:
    links: dict[str, str] = {}
    for r in reports:
        if r.owner:
            links.setdefault(r.owner, anchor(r))
    rows = [[s.name, s.cmd, ", ".join(s.params) or "-", ", ".join(s.outs) or "-"] for s in stages]
    order = dag.topo_order(stages)
    return (
        f'<section id="pipeline"><h2>Pipeline</h2>'
        f'<p class="muted">{len(stages)} DVC stages from dvc.yaml, left to right in build order '
        "(hover a box for its command, params and outs; stages with reports link to them). "
        "<code>dvc dag</code> prints the same graph; <code>dvc status</code> lists what is stale.</p>"
        f'<div class="dagwrap">{dag.svg(stages, links=links)}</div>'
        f"<details><summary>stages in build order: {escape(' → '.join(order))}</summary>"
        f"{table(['stage', 'cmd', 'params', 'outs'], rows, 500)}</details></section>"
    )


def _sample(assets: Assets, rep: StageReport, s: Sample) -> str:
    info = [[k, v] for k, v in s.info.items() if not (k in ("id", "name") and str(v) == s.key)][:8]
    midi = ([("download MIDI", s.midi)] if s.midi else []) + list(s.extra_midi.items())
    return assets.sample_card(rep, s.key, kv_table(info) if info else "", s.images, s.audio, midi)


def stage_section(assets: Assets, rep: StageReport, max_samples: int, max_rows: int) -> str:
    out = [f'<section id="{anchor(rep)}"><h2>reports/{escape(rep.name)}</h2>']
    if rep.owner:
        out.append(f'<p class="muted">written by stage <code>{escape(rep.owner)}</code></p>')
    else:
        out.append('<p class="muted">not declared as an out in dvc.yaml</p>')
    if rep.headline is not None:
        out.append(
            f'<p>headline.json: <a href="{INDEX}#{headline_anchor(rep)}">shown on the results page</a> '
            f"(family <code>{escape(rep.headline.family)}</code>)</p>"
        )
    if rep.headline_problems:
        out.append(
            '<ul class="problems">'
            + "".join(f"<li>headline.json: {escape(p)}</li>" for p in rep.headline_problems)
            + "</ul>"
        )
    for rel, data in rep.metrics:
        out.append(f"<h3>{escape(rel)}</h3>" + json_html(data, max_rows))
    for rel, text in rep.markdown:
        out.append(f'<h3>{escape(rel)}</h3><div class="md">{to_html(text, 3, max_rows)}</div>')
    for rel, header, rows in rep.tables:
        out.append(f"<h3>{escape(rel)}</h3>" + table(header, rows, max_rows))
    if rep.curves:
        out.append("<h3>Curves</h3>")
    for c in rep.curves:
        src = assets.curve(rep, c)
        out.append(
            f'<figure class="curve">{assets.image(src, c.rel)}'
            f"<figcaption>{escape(c.rel)}: {escape(', '.join(c.series))} vs {escape(c.x)}"
            "</figcaption></figure>"
        )
    if rep.images:
        out.append('<h3>Figures</h3><div class="grid gallery">')
        for rel in rep.images:
            out.append(
                f"<figure>{assets.image(assets.copy(rep, rel), rel)}<figcaption>{escape(rel)}</figcaption></figure>"
            )
        out.append("</div>")
    if rep.samples:
        shown = rep.samples[:max_samples]
        out.append(
            f'<h3>Samples</h3><p class="muted">{len(shown)} of {len(rep.samples)} '
            "(report.max_samples); audio plays in the page, MIDI downloads.</p>"
            '<div class="grid samples">' + "".join(_sample(assets, rep, s) for s in shown) + "</div>"
        )
    if rep.errors:
        out.append("<h3>Unreadable files</h3><ul>" + "".join(f"<li>{escape(e)}</li>" for e in rep.errors) + "</ul>")
    for rel, m in rep.manifests:
        out.append(
            f"<details><summary>{escape(rel)}: params, inputs, packages</summary>"
            + json_html(
                {k: m[k] for k in ("stage", "params", "seed", "inputs", "packages", "python") if k in m}, max_rows
            )
            + "</details>"
        )
    if rep.other:
        out.append(f'<p class="muted">other files: {escape(", ".join(rep.other[:50]))}</p>')
    out.append("</section>")
    return "".join(out)


def plots_note() -> str:
    return (
        '<section id="interactive-plots"><h2>Interactive plots and experiments</h2>'
        "<p>This page is static (it opens from <code>file://</code> with no server). For interactive "
        "plots of the curves declared in <code>dvc.yaml</code> run <code>dvc plots show</code> "
        "(writes <code>dvc_plots/index.html</code>; its Vega scripts load from a CDN, so it needs "
        "internet in the browser, or pass <code>--html-template</code> with a local copy; "
        "<code>dvc plots show --json</code> works offline). Compare runs with "
        "<code>dvc plots diff &lt;exp-or-rev&gt; ...</code>, <code>dvc exp show</code> and "
        "<code>dvc metrics diff</code>. Live runs and their logs: <code>make ui</code> "
        "(Prefect UI on 127.0.0.1:4200).</p></section>"
    )


def stages_html(
    assets: Assets, title: str, stages: list[dag.Stage], reports: list[StageReport], max_samples: int, max_rows: int
) -> str:
    sections = [pipeline_section(stages, reports)]
    sections += [stage_section(assets, r, max_samples, max_rows) for r in reports]
    if not reports:
        sections.append('<section id="no-reports"><h2>No reports yet</h2><p>Run <code>dvc repro</code>.</p></section>')
    sections.append(plots_note())
    nav = [
        (INDEX, "← results"),
        ("#pipeline", "Pipeline"),
        *[(f"#{anchor(r)}", r.name) for r in reports],
        ("#interactive-plots", "dvc plots"),
    ]
    subtitle = (
        f"Every file of {len(reports)} report folders from {len(stages)} stages. The results come first on index.html."
    )
    return page(f"{title}: all stages", subtitle, nav, sections)
