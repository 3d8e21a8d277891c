"""The home page, ``index.html``: results first. One section per family (its headline tables,
figures, samples and learning curves), then one table of every stage's metrics, then the link to
``stages.html`` where everything else lives."""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path

from pipeline.report.assets import Assets
from pipeline.report.collect import StageReport
from pipeline.report.families import Family
from pipeline.report.headline import Headline, Table
from pipeline.report.html import page
from pipeline.report.markdown import to_html
from pipeline.report.stages_page import headline_anchor, slug, stage_link
from pipeline.report.tables import fmt_cell, results_table, scalar_items

STAGES = "stages.html"
LOSS_CSV = "plots/loss.csv"  # what pipeline.train.job writes for every training stage
MAX_METRIC_COLUMNS = 40


def family_anchor(f: Family) -> str:
    return f"family-{slug(f.key)}"


def _stage_label(rep: StageReport) -> str:
    return rep.owner or rep.name


def _headline_block(assets: Assets, rep: StageReport, h: Headline, max_samples: int, max_rows: int) -> str:
    out = [f'<div class="headline" id="{headline_anchor(rep)}"><h3>{escape(h.title)}</h3>']
    out.append(
        f'<p class="muted">from <a href="{stage_link(rep, STAGES)}">reports/{escape(rep.name)}</a>'
        f"{' (stage ' + escape(rep.owner) + ')' if rep.owner else ''}</p>"
    )
    if h.text:
        out.append(to_html(h.text, 3))
    out += [results_table(t, max_rows) for t in h.tables]
    if h.figures:
        out.append(
            '<div class="grid figures">'
            + "".join(
                f"<figure>{assets.image(assets.copy(rep, rel), rel)}<figcaption>{escape(Path(rel).stem)}</figcaption>"
                "</figure>"
                for rel in h.figures
            )
            + "</div>"
        )
    if h.samples:
        shown = h.samples[:max_samples]
        note = f" ({len(shown)} of {len(h.samples)}, report.max_samples)" if len(shown) < len(h.samples) else ""
        out.append(
            f"<h4>Samples{note}</h4>"
            + '<div class="grid samples">'
            + "".join(
                assets.sample_card(
                    rep,
                    s.name,
                    f'<p class="muted">{escape(s.caption)}</p>' if s.caption else "",
                    s.image,
                    s.audio,
                    [(Path(m).name, m) for m in s.midi],
                )
                for s in shown
            )
            + "</div>"
        )
    out.append("</div>")
    return "".join(out)


def _fallback(rep: StageReport, max_rows: int) -> str:
    """A stage of a family without any headline: its summary markdown and its scalar metrics."""
    out = []
    for rel, text in rep.markdown:
        if "/" not in rel:
            out.append(f'<div class="md">{to_html(text, 3, max_rows)}</div>')
    for rel, data in sorted(rep.metrics, key=lambda m: m[0] != "metrics.json"):  # metrics.json, then stats
        scalars, _ = scalar_items(data)
        if scalars and not out and "/" not in rel:
            out.append(
                results_table(
                    Table(f"reports/{rep.name}/{rel}", ["metric", "value"], [[k, v] for k, v in scalars.items()]),
                    max_rows,
                )
            )
    if not out:
        return ""
    return (
        f'<div class="headline"><h3>{escape(_stage_label(rep))}</h3>'
        f'<p class="muted">from <a href="{stage_link(rep, STAGES)}">reports/{escape(rep.name)}</a> '
        "(no headline.json)</p>" + "".join(out) + "</div>"
    )


def _curves(assets: Assets, f: Family) -> str:
    figs = []
    for rep in f.reports:
        for c in rep.curves:
            if c.rel == LOSS_CSV:
                figs.append(
                    f'<figure class="curve">{assets.image(assets.curve(rep, c), f"{_stage_label(rep)} {c.rel}")}'
                    f"<figcaption>{escape(_stage_label(rep))}: {escape(', '.join(c.series))} vs "
                    f"{escape(c.x)}</figcaption></figure>"
                )
    return "<h3>Learning curves</h3>" + "".join(figs) if figs else ""


def family_section(assets: Assets, f: Family, max_samples: int, max_rows: int) -> str:
    links = " · ".join(f'<a href="{stage_link(r, STAGES)}">{escape(_stage_label(r))}</a>' for r in f.reports)
    out = [
        f'<section class="family" id="{family_anchor(f)}"><h2>{escape(f.title)}</h2>'
        f'<p class="muted">stages: {links}</p>'
    ]
    headlined = f.headlined
    for rep in headlined:
        out.append(_headline_block(assets, rep, rep.headline, max_samples, max_rows))
    if not headlined:
        out += [_fallback(rep, max_rows) for rep in f.reports]
    problems = [(r, p) for r in f.reports for p in r.headline_problems]
    if problems:
        out.append(
            '<ul class="problems">'
            + "".join(f"<li>reports/{escape(r.name)}/headline.json: {escape(p)}</li>" for r, p in problems)
            + "</ul>"
        )
    out.append(_curves(assets, f))
    out.append("</section>")
    return "".join(out)


def metrics_section(families: list[Family], declared: list[str]) -> str:
    """One row per stage: the top-level scalars of its metrics.json (or its declared metrics file)."""
    rows = []
    for f in families:
        for rep in f.reports:
            files = dict(rep.metrics)
            rel = (
                "metrics.json"
                if "metrics.json" in files
                else next((r for r in files if f"reports/{rep.name}/{r}" in declared), None)
            )
            if rel is not None:
                scalars, nested = scalar_items(files[rel])
                rows.append((f, rep, rel, scalars, nested))
    if not rows:
        return ""
    freq = Counter(k for *_, scalars, _ in rows for k in scalars)
    first = {k: i for i, k in enumerate(dict.fromkeys(k for *_, s, _ in rows for k in s))}
    cols = sorted(freq, key=lambda k: (-freq[k], first[k]))
    dropped = cols[MAX_METRIC_COLUMNS:]
    cols = cols[:MAX_METRIC_COLUMNS]
    body = []
    for f, rep, _rel, scalars, nested in rows:
        cells = [
            f'<td><a href="{stage_link(rep, STAGES)}">{escape(_stage_label(rep))}</a></td>',
            f"<td>{escape(f.title)}</td>",
        ]
        for k in cols:
            text, num = fmt_cell(scalars.get(k))
            cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        cells.append(f'<td class="num">{nested or ""}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(c)}</th>" for c in ["stage", "family", *cols, "nested values"])
    note = (
        f'<p class="muted">{len(dropped)} rarer columns left out: {escape(", ".join(dropped))}</p>' if dropped else ""
    )
    return (
        '<section id="metrics"><h2>Metrics across stages</h2>'
        '<p class="muted">Top-level numbers of each stage\'s metrics.json (what <code>dvc metrics show</code> '
        "reads); nested values (per task, per class) are in the family tables above and on the "
        f'<a href="{STAGES}">stages page</a>.</p>'
        f'<div class="tablewrap"><table class="metrics results"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{note}</section>"
    )


def index_html(
    assets: Assets,
    title: str,
    families: list[Family],
    declared: list[str],
    n_stages: int,
    max_samples: int,
    max_rows: int,
    lead: str = "",
) -> str:
    """``lead``: a section shown first (the cross-generator table, pipeline/report/generators.py)."""
    sections = ([lead] if lead else []) + [family_section(assets, f, max_samples, max_rows) for f in families]
    if not families:
        sections.append('<section id="no-reports"><h2>No results yet</h2><p>Run <code>dvc repro</code>.</p></section>')
    if metrics := metrics_section(families, declared):
        sections.append(metrics)
    n_reports = sum(len(f.reports) for f in families)
    sections.append(
        f'<section id="everything"><h2>Everything else</h2><p class="more"><a href="{STAGES}">'
        f'All {n_reports} report folders, file by file →</a></p><p class="muted">The pipeline DAG '
        "from dvc.yaml, every metrics and stats JSON, markdown summaries, every curve, figure and "
        "sample, and each output's manifest (params, input hashes, package versions, seed).</p>"
        "</section>"
    )
    nav = [("#generators", "Every generator")] if lead else []
    nav += [(f"#{family_anchor(f)}", f.title) for f in families]
    nav += [("#metrics", "Metrics across stages")] if metrics else []
    nav += [(STAGES, "All stages and files →")]
    subtitle = (
        f"{len(families)} families, {n_reports} report folders, {n_stages} DVC stages. Built by the DVC "
        "stage 'report'; rebuild with dvc repro report."
    )
    return page(title, subtitle, nav, sections)
