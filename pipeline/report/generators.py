"""The section the home page leads with: the cross-generator table of ``eval_generators``
(``reports/eval_generators/table.json``, pipeline/eval/generator_table.py).

One row per generator, then the real-vs-real ceiling and the two sanity rows; columns grouped by
metric (validity, CLaMP FMD, note statistics), the best generator per column marked; a line per
metric that cannot tell a sanity row from real pieces at this scale; then each row's audio and
piano roll side by side."""

from __future__ import annotations

import shutil
from html import escape
from pathlib import Path

from pipeline.eval.table_writer import COLUMNS, HEADERS
from pipeline.report import figures
from pipeline.report.assets import Assets
from pipeline.report.html import audio_tag

TABLE = Path("reports/eval_generators/table.json")
AUDIO = Path("reports/valle_render_generators/audio.json")  # VALL-E and FluidSynth renders, audio FAD
ANCHOR = "generators"
GROUPS = (("", ("validity",)), ("CLaMP features", ("fmd", "fmd_inf")), ("note statistics (overlap)", COLUMNS[3:]))
BASELINES = ("reference half", "shuffled onsets", "random pitch")


def _cell(cell: dict, best: bool) -> str:
    if cell.get("value") is None:
        return f'<td class="num muted" title="{escape(cell.get("why", ""))}">n/a</td>'
    lo, hi = cell["ci95"]
    text = f'{cell["value"]:.3g} <span class="ci">[{lo:.3g}, {hi:.3g}]</span>'
    return f'<td class="num">{"<b>★ " + text + "</b>" if best else text}</td>'


def _inside(root: Path, rel: str | None) -> bool:
    """A repo-relative file that exists (a table from elsewhere must not copy files from outside)."""
    return bool(rel) and not Path(rel).is_absolute() and ".." not in Path(rel).parts and (root / rel).is_file()


def _copy(root: Path, assets: Assets, rel: str) -> str:
    dest = assets.site / "assets" / "generators" / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / rel, dest)
    return dest.relative_to(assets.site).as_posix()


def _player(root: Path, assets: Assets, label: str, rel: str | None) -> str:
    if not _inside(root, rel):
        return f'<p class="muted">{escape(label)}: no audio</p>'
    assets.counts["audio"] += 1
    return f'<p class="muted">{escape(label)}</p>' + audio_tag(_copy(root, assets, rel))


def _media_card(root: Path, assets: Assets, row: dict, renders: dict | None = None) -> str:
    m = row.get("media") or {}
    parts = [f"<h4>{escape(row['row'])}</h4>"]
    image = _copy(root, assets, m["image"]) if _inside(root, m.get("image")) else None
    if image is None and _inside(root, m.get("midi")):
        dest = assets.site / "rolls" / "generators" / (m["midi"].replace("/", "__") + ".png")
        if figures.plot_piano_roll(root / m["midi"], dest, f"{row['row']} (piano roll)"):
            image = dest.relative_to(assets.site).as_posix()
    parts.append(assets.image(image, f"{row['row']} piano roll") if image else '<p class="muted">no piano roll</p>')
    parts.append(_player(root, assets, "FluidSynth (as the generating stage rendered it)", m.get("audio")))
    if renders is not None:
        files = renders.get("files", {})
        for system, label in (("valle", "VALL-E"), ("fluidsynth", "FluidSynth")):
            rel = f"{AUDIO.parent}/{files[system]}" if system in files else None
            parts.append(_player(root, assets, f"{label} in the prompt's condition", rel))
    return '<div class="card sample">' + "".join(parts) + "</div>"


def separation_lines(table: dict) -> list[str]:
    """Plain sentences: which metric cannot tell which sanity row from real pieces here."""
    out = []
    for col, by in (table.get("separates") or {}).items():
        blind = [name for name, ok in by.items() if not ok]
        if blind:
            out.append(
                f"{HEADERS.get(col, col)}: cannot separate {' or '.join(blind)} from real pieces at this scale "
                "(95% intervals overlap the real-vs-real ceiling)"
            )
    return out


def audio_table(audio: dict) -> str:
    """FAD of each row's two renders against the real recordings; the lowest per column marked."""
    cols = [(sys, emb) for sys in ("fluidsynth", "valle") for emb in ("logmel", "codec")]
    rows = audio.get("rows", {})
    best = {}
    for c in cols:
        vals = [r["fad"][c[0]][c[1]] for r in rows.values() if r["fad"].get(c[0], {}).get(c[1]) is not None]
        best[c] = min(vals) if vals else None
    head = "".join(f"<th>{'VALL-E' if s == 'valle' else 'FluidSynth'} · {e} ↓</th>" for s, e in cols)
    body = []
    for name, r in rows.items():
        cells = []
        for c in cols:
            v = r["fad"].get(c[0], {}).get(c[1])
            text = "n/a" if v is None else f"{v:.4g}"
            cells.append(f'<td class="num">{"<b>★ " + text + "</b>" if v is not None and v == best[c] else text}</td>')
        body.append(f"<tr><td>{escape(name)}</td>{''.join(cells)}</tr>")
    rejected = "".join(f"<li>{escape(r['row'])}: {escape(r['reason'])}</li>" for r in audio.get("rejected", []))
    p = audio.get("prompt", {})
    return (
        f"<h3>Audio: FAD against {audio.get('reference_segments')} real held-out segments</h3>"
        f'<p class="muted">Each row\'s first sample, its first {audio.get("seconds")} s, rendered by VALL-E '
        f"(prompted by {escape(str(p.get('seconds')))} s of {escape(str(p.get('recording')))} and its MIDI) and by "
        f"FluidSynth, both in the prompt's condition ({escape(str(p.get('condition')))}); FAD on log-mel frames and on "
        "the codec's latents, as valle_eval; one render per row: no interval, read differences as rough. "
        "Stage valle_render_generators.</p>"
        f'<div class="tablewrap"><table class="metrics results"><thead><tr><th>generator</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
        + (f"<p>Not rendered:</p><ul>{rejected}</ul>" if rejected else "")
    )


def generators_section(root: Path, assets: Assets, table: dict, audio: dict | None = None) -> str:
    """``audio``: ``valle_render_generators``' audio.json, when that stage has run."""
    best = table.get("best") or {}
    style = table.get("style") or {}
    style_vals = [v["accuracy"]["value"] for v in style.values() if v["accuracy"].get("value") is not None]
    best_style = max(style_vals) if style_vals else None
    head1 = (
        "<th rowspan=2>generator</th><th rowspan=2>valid / pieces</th><th rowspan=2>validity</th>"
        '<th rowspan=2 title="the style classifier labels the piece with the composer it was conditioned on">'
        "style acc ↑</th>"
    ) + "".join(f'<th colspan="{len(cols)}">{escape(g)}</th>' for g, cols in GROUPS[1:])
    head2 = "".join(f"<th>{escape(HEADERS[c])}</th>" for _, cols in GROUPS[1:] for c in cols)
    body = []
    for r in table["rows"]:
        cls = ' class="muted"' if r["row"] in BASELINES else ""
        cells = "".join(_cell(r["cells"][c], r["row"] in best.get(c, [])) for c in COLUMNS)
        st = style.get(r["row"])
        st_cell = (
            _cell(st["accuracy"], st["accuracy"].get("value") == best_style)
            if st
            else '<td class="num muted" title="not conditioned on a class a style classifier knows">—</td>'
        )
        validity, rest = cells.split("</td>", 1)
        cells = f"{validity}</td>{st_cell}{rest}"
        body.append(f"<tr{cls}><td>{escape(r['row'])}</td><td class=num>{r['valid']}/{r['pieces']}</td>{cells}</tr>")
    notes = separation_lines(table) + list(table.get("warnings") or [])
    cfg = table.get("config", {})
    return (
        f'<section id="{ANCHOR}"><h2>Every generator, one table</h2>'
        f'<p class="muted">Reference: {table["reference_pieces"]} real pieces '
        f"({escape(str(table.get('reference_source', 'held-out corpus pieces')))}); scorer "
        f"{escape(str(table.get('scorer', '')))}; cells: value [95% bootstrap interval, {cfg.get('n_boot')} "
        "resamples of the row's pieces]. FMD lower is closer; note statistics are overlapping areas, higher is "
        "closer; style acc: share of a composer-conditioned row's pieces the family's style classifier labels "
        "with that composer; ★ the best generator per column (sanity rows excluded). Stage eval_generators, "
        "docs/evaluation.md.</p>"
        f'<div class="tablewrap"><table class="metrics results"><thead><tr>{head1}</tr><tr>{head2}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
        + ("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>" if notes else "")
        + (audio_table(audio) if audio else '<p class="muted">No VALL-E renders (stage valle_render_generators).</p>')
        + "<h3>Listen and look: one sample per generator</h3>"
        + '<div class="grid samples">'
        + "".join(
            _media_card(root, assets, r, audio.get("rows", {}).get(r["row"], {}) if audio else None)
            for r in table["rows"]
            if r.get("media")
        )
        + "</div></section>"
    )
