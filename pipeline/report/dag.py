"""The pipeline DAG from dvc.yaml, drawn as inline SVG (no JS, no CDN).

An edge A -> B exists when one of B's deps is one of A's outs or lies inside it (the same rule
DVC uses). Layers are longest-path depths, so the picture reads left to right like
``dvc dag``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import yaml


@dataclass
class Stage:
    name: str
    cmd: str = ""
    deps: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)


def _paths(items) -> list[str]:
    out = []
    for it in items or []:
        if isinstance(it, str):
            out.append(it.rstrip("/"))
        elif isinstance(it, dict):  # {path: {cache: false, ...}}
            out.extend(str(k).rstrip("/") for k in it)
    return out


def _params(items) -> list[str]:
    out = []
    for it in items or []:
        if isinstance(it, dict):  # {other.yaml: [keys]}
            for f, keys in it.items():
                out.extend(f"{f}:{k}" for k in (keys or []))
        else:
            out.append(str(it))
    return out


def _read(dvc_yaml: Path) -> dict:
    return (yaml.safe_load(dvc_yaml.read_text()) or {}) if dvc_yaml.exists() else {}


def load_stages(dvc_yaml: Path) -> list[Stage]:
    raw = _read(dvc_yaml)
    stages = []
    for name, spec in (raw.get("stages") or {}).items():
        spec = spec or {}
        body = spec.get("do", spec)  # foreach/matrix stages: draw the template once
        cmd = body.get("cmd", "")
        stages.append(
            Stage(
                name=name,
                cmd=" && ".join(cmd) if isinstance(cmd, list) else str(cmd),
                deps=_paths(body.get("deps")),
                outs=_paths(body.get("outs")) + _paths(body.get("metrics")) + _paths(body.get("plots")),
                params=_params(body.get("params")),
            )
        )
    return stages


def declared_metrics(dvc_yaml: Path) -> list[str]:
    """The top-level ``metrics:`` files of dvc.yaml (what ``dvc metrics show`` reads)."""
    return _paths(_read(dvc_yaml).get("metrics"))


def _inside(path: str, out: str) -> bool:
    return path == out or path.startswith(out + "/")


def edges(stages: list[Stage]) -> list[tuple[str, str]]:
    found = []
    for a in stages:
        for b in stages:
            if a is not b and any(_inside(d, o) for d in b.deps for o in a.outs):
                found.append((a.name, b.name))
    return found


def layers(stages: list[Stage], es: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path depth of each stage (cycles, which DVC rejects anyway, are cut)."""
    parents: dict[str, list[str]] = {s.name: [] for s in stages}
    for a, b in es:
        parents[b].append(a)
    depth: dict[str, int] = {}

    def visit(n: str, seen: frozenset) -> int:
        if n in depth:
            return depth[n]
        ps = [p for p in parents[n] if p not in seen]
        depth[n] = 1 + max((visit(p, seen | {n}) for p in ps), default=-1)
        return depth[n]

    for s in stages:
        visit(s.name, frozenset())
    return depth


def topo_order(stages: list[Stage]) -> list[str]:
    d = layers(stages, edges(stages))
    pos = {s.name: i for i, s in enumerate(stages)}
    return sorted(d, key=lambda n: (d[n], pos[n]))


def report_outs(stages: list[Stage], skip: tuple[str, ...] = ("reports/site",)) -> list[tuple[str, str]]:
    """``(out, stage)`` for every out under ``reports/`` (the site excluded), in DAG order."""
    by_name = {s.name: s for s in stages}
    found: list[tuple[str, str]] = []
    for name in topo_order(stages):
        for o in by_name[name].outs:
            if o.startswith("reports/") and not any(_inside(o, k) for k in skip):
                found.append((o, name))
    return found


def present_report_outs(root: Path) -> list[str]:
    """The report dirs of the repo's dvc.yaml that exist (the report stage's inputs)."""
    return [o for o, _ in report_outs(load_stages(root / "dvc.yaml")) if (root / o).exists()]


def svg(
    stages: list[Stage],
    links: dict[str, str] | None = None,
    box_w: int = 150,
    box_h: int = 28,
    gap_x: int = 50,
    gap_y: int = 14,
) -> str:
    """Boxes in longest-path columns; ``links`` maps a stage to the anchor of its report."""
    links = links or {}
    if not stages:
        return "<p>No stages in dvc.yaml.</p>"
    es = edges(stages)
    depth = layers(stages, es)
    columns: dict[int, list[str]] = {}
    for s in stages:
        columns.setdefault(depth[s.name], []).append(s.name)
    pos: dict[str, tuple[int, int]] = {}
    for col, names in columns.items():
        for row, n in enumerate(names):
            pos[n] = (10 + col * (box_w + gap_x), 10 + row * (box_h + gap_y))
    width = 20 + (max(columns) + 1) * (box_w + gap_x) - gap_x
    height = 20 + max(len(v) for v in columns.values()) * (box_h + gap_y) - gap_y
    parts = [
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="pipeline DAG">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#7a869a"/></marker></defs>',
    ]
    for a, b in es:
        (ax, ay), (bx, by) = pos[a], pos[b]
        x1, y1, x2, y2 = ax + box_w, ay + box_h / 2, bx, by + box_h / 2
        mx = (x1 + x2) / 2
        parts.append(
            f'<path d="M{x1},{y1} C{mx},{y1} {mx},{y2} {x2 - 2},{y2}" fill="none" '
            'stroke="#7a869a" stroke-width="1.3" marker-end="url(#arrow)"/>'
        )
    for s in stages:
        x, y = pos[s.name]
        label = s.name if len(s.name) <= 20 else s.name[:19] + "…"
        tip = escape(f"{s.cmd}\nparams: {', '.join(s.params) or '-'}\nouts: {', '.join(s.outs) or '-'}")
        fill, stroke = ("#dce8f8", "#3b6fb6") if s.name in links else ("#f4f6f9", "#8a96a8")
        box = (
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + box_w / 2}" y="{y + box_h / 2 + 4}" text-anchor="middle" font-size="12" '
            f'font-family="sans-serif">{escape(label)}</text>'
        )
        if s.name in links:
            box = f'<a href="#{escape(links[s.name])}">{box}</a>'
        parts.append(f'<g class="node" id="dag-{escape(s.name)}"><title>{tip}</title>{box}</g>')
    parts.append("</svg>")
    return "".join(parts)
