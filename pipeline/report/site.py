"""Assemble the report site: ``<site>/index.html`` plus ``assets/`` (copied images, audio,
MIDI), ``plots/`` (rendered curves) and ``rolls/`` (piano rolls for MIDI without an image).

All links are relative, so the folder opens from ``file://`` and can be copied anywhere.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from html import escape
from pathlib import Path

from pipeline.report import dag, figures
from pipeline.report.collect import Sample, StageReport, scan_reports
from pipeline.report.html import audio_tag, img_tag, json_html, kv_table, page, table, url
from pipeline.report.markdown import to_html


@dataclass(frozen=True)
class SiteOptions:
    title: str = "ostinato report"
    max_samples: int = 8
    max_table_rows: int = 60


def anchor(rep: StageReport) -> str:
    return "report-" + rep.name.replace("/", "-")


def _safe(rel: str) -> str:
    return rel.replace("/", "__")


class SiteBuilder:
    def __init__(self, root: Path, site: Path, opts: SiteOptions):
        self.root, self.site, self.opts = root, site, opts
        self.counts = {"stages": 0, "report_dirs": 0, "images": 0, "curves": 0, "samples": 0, "audio": 0}

    def asset(self, rep: StageReport, rel: str) -> str:
        """Copy a report file next to the page; returns its site-relative path."""
        dest = self.site / "assets" / rep.name / rel
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(rep.path / rel, dest)
        return f"assets/{rep.name}/{rel}"

    # ------------------------------------------------------------------ sections
    def pipeline_section(self, stages: list[dag.Stage], reports: list[StageReport]) -> str:
        links: dict[str, str] = {}
        for r in reports:
            if r.owner:
                links.setdefault(r.owner, anchor(r))
        rows = [[s.name, s.cmd, ", ".join(s.params) or "-", ", ".join(s.outs) or "-"] for s in stages]
        order = dag.topo_order(stages)
        return (f'<section id="pipeline"><h2>Pipeline</h2>'
                f'<p class="muted">{len(stages)} DVC stages from dvc.yaml, left to right in build order '
                "(hover a box for its command, params and outs; stages with reports link to them). "
                "<code>dvc dag</code> prints the same graph; <code>dvc status</code> lists what is stale.</p>"
                f'<div class="dagwrap">{dag.svg(stages, links=links)}</div>'
                f"<details><summary>stages in build order: {escape(' → '.join(order))}</summary>"
                f"{table(['stage', 'cmd', 'params', 'outs'], rows, 500)}</details></section>")

    def sample_card(self, rep: StageReport, s: Sample) -> str:
        parts = [f"<h4>{escape(s.key)}</h4>"]
        info = [[k, v] for k, v in s.info.items() if not (k in ("id", "name") and str(v) == s.key)][:8]
        if info:
            parts.append(kv_table(info))
        images = list(s.images)
        for rel in images:
            parts.append(img_tag(self.asset(rep, rel), f"{s.key} {rel}"))
            self.counts["images"] += 1
        if not images and s.midi:
            dest = self.site / "rolls" / rep.name / f"{_safe(s.midi)}.png"
            if figures.plot_piano_roll(rep.path / s.midi, dest, f"{s.key} (piano roll)"):
                parts.append(img_tag(dest.relative_to(self.site).as_posix(), f"{s.key} piano roll"))
                self.counts["images"] += 1
            else:
                parts.append('<p class="muted">MIDI could not be drawn (empty or unreadable)</p>')
        for rel in s.audio:
            parts.append(audio_tag(self.asset(rep, rel)))
            self.counts["audio"] += 1
        if s.midi:
            href = self.asset(rep, s.midi)
            links = [f'<a href="{escape(url(href))}" download>download MIDI</a> <span class="muted">{escape(s.midi)}</span>']
            links += [f'<a href="{escape(url(self.asset(rep, rel)))}" download>{escape(k)}</a>'
                      for k, rel in s.extra_midi.items()]
            parts.append("<p>" + " · ".join(links) + "</p>")
        self.counts["samples"] += 1
        return '<div class="card sample">' + "".join(parts) + "</div>"

    def stage_section(self, rep: StageReport) -> str:
        o = self.opts
        out = [f'<section id="{anchor(rep)}"><h2>reports/{escape(rep.name)}</h2>']
        if rep.owner:
            out.append(f'<p class="muted">written by stage <code>{escape(rep.owner)}</code></p>')
        else:
            out.append('<p class="muted">not declared as an out in dvc.yaml</p>')
        for rel, data in rep.metrics:
            out.append(f"<h3>{escape(rel)}</h3>" + json_html(data, o.max_table_rows))
        for rel, text in rep.markdown:
            out.append(f'<h3>{escape(rel)}</h3><div class="md">{to_html(text, 3, o.max_table_rows)}</div>')
        for rel, header, rows in rep.tables:
            out.append(f"<h3>{escape(rel)}</h3>" + table(header, rows, o.max_table_rows))
        if rep.curves:
            out.append("<h3>Curves</h3>")
        for c in rep.curves:
            dest = self.site / "plots" / rep.name / f"{_safe(c.rel)}.png"
            figures.plot_curve(c, dest, f"reports/{rep.name}/{c.rel}")
            out.append(f'<figure class="curve">{img_tag(dest.relative_to(self.site).as_posix(), c.rel)}'
                       f"<figcaption>{escape(c.rel)}: {escape(', '.join(c.series))} vs {escape(c.x)}"
                       "</figcaption></figure>")
            self.counts["curves"] += 1
            self.counts["images"] += 1
        if rep.images:
            out.append('<h3>Figures</h3><div class="grid gallery">')
            for rel in rep.images:
                out.append(f"<figure>{img_tag(self.asset(rep, rel), rel)}<figcaption>{escape(rel)}</figcaption></figure>")
                self.counts["images"] += 1
            out.append("</div>")
        if rep.samples:
            shown = rep.samples[: o.max_samples]
            out.append(f'<h3>Samples</h3><p class="muted">{len(shown)} of {len(rep.samples)} '
                       "(report.max_samples); audio plays in the page, MIDI downloads.</p>"
                       '<div class="grid samples">' + "".join(self.sample_card(rep, s) for s in shown) + "</div>")
        if rep.errors:
            out.append("<h3>Unreadable files</h3><ul>" + "".join(f"<li>{escape(e)}</li>" for e in rep.errors) + "</ul>")
        for rel, m in rep.manifests:
            out.append(f"<details><summary>{escape(rel)}: params, inputs, packages</summary>"
                       + json_html({k: m[k] for k in ("stage", "params", "seed", "inputs", "packages", "python")
                                    if k in m}, o.max_table_rows) + "</details>")
        if rep.other:
            out.append(f'<p class="muted">other files: {escape(", ".join(rep.other[:50]))}</p>')
        out.append("</section>")
        return "".join(out)

    def plots_note(self) -> str:
        return ('<section id="interactive-plots"><h2>Interactive plots and experiments</h2>'
                "<p>This page is static (it opens from <code>file://</code> with no server). For interactive "
                "plots of the curves declared in <code>dvc.yaml</code> run <code>dvc plots show</code> "
                "(writes <code>dvc_plots/index.html</code>; its Vega scripts load from a CDN, so it needs "
                "internet in the browser, or pass <code>--html-template</code> with a local copy; "
                "<code>dvc plots show --json</code> works offline). Compare runs with "
                "<code>dvc plots diff &lt;exp-or-rev&gt; ...</code>, <code>dvc exp show</code> and "
                "<code>dvc metrics diff</code>. Live runs and their logs: <code>make ui</code> "
                "(Prefect UI on 127.0.0.1:4200).</p></section>")

    # ------------------------------------------------------------------ whole site
    def build(self) -> dict:
        stages = dag.load_stages(self.root / "dvc.yaml")
        reports = scan_reports(self.root / "reports", dag.report_outs(stages))
        self.counts["stages"], self.counts["report_dirs"] = len(stages), len(reports)
        sections = [self.pipeline_section(stages, reports)]
        sections += [self.stage_section(r) for r in reports]
        if not reports:
            sections.append('<section id="no-reports"><h2>No reports yet</h2><p>Run <code>dvc repro</code>.</p></section>')
        sections.append(self.plots_note())
        nav = [("pipeline", "Pipeline"), *[(anchor(r), r.name) for r in reports],
               ("interactive-plots", "dvc plots")]
        subtitle = (f"{len(stages)} stages, {len(reports)} report folders. Built by the DVC stage 'report' "
                    "(reports/site/index.html); rebuild with dvc repro report.")
        (self.site / "index.html").write_text(page(self.opts.title, subtitle, nav, sections))
        return dict(self.counts)


def build_site(root: Path, site: Path, opts: SiteOptions | None = None) -> dict:
    """Write the report for the repo at ``root`` into ``site`` (created); returns counts."""
    site.mkdir(parents=True, exist_ok=True)
    return SiteBuilder(Path(root), Path(site), opts or SiteOptions()).build()
