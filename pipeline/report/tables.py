"""Results tables for people: numbers formatted (thousands separators, three significant
digits or a table's fixed ``digits``), confidence intervals beside their value, numbers right
aligned. The raw JSON stays on the stages page."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from pipeline.report.headline import Table


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt_num(v: float | int, digits: int | None = None) -> str:
    """``1234567`` -> ``1,234,567``; ``0.81234`` -> ``0.812``; ``4012.5`` -> ``4,012``;
    ``3.2e-05`` -> ``3.2e-05``; with ``digits`` every float gets that many decimals."""
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return str(v)
    if digits is not None:
        return f"{v:,.{digits}f}"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    if mag >= 3:
        return f"{v:,.0f}"
    if mag < -3:
        return f"{v:.2g}"
    return f"{v:.{2 - mag}f}"


def fmt_cell(v: Any, digits: int | None = None) -> tuple[str, bool]:
    """(HTML, is_numeric) of one cell: a scalar or ``{"value": v, "ci95": [lo, hi]}``."""
    if isinstance(v, dict) and "value" in v:
        text, num = fmt_cell(v["value"], digits)
        lo_hi = v.get("ci95")
        if lo_hi and all(_is_num(x) for x in lo_hi):
            text += f' <span class="ci">[{fmt_num(lo_hi[0], digits)}, {fmt_num(lo_hi[1], digits)}]</span>'
        return text, num
    if _is_num(v):
        return escape(fmt_num(v, digits)), True
    if v is None:
        return "", False
    if isinstance(v, bool):
        return ("yes" if v else "no"), False
    return escape(str(v)), False


def _row(cells: list[Any], digits: int | None) -> str:
    out = []
    for c in cells:
        text, num = fmt_cell(c, digits)
        out.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
    return "<tr>" + "".join(out) + "</tr>"


def results_table(t: Table, max_rows: int = 200) -> str:
    rows = t.rows[:max_rows]
    more = (
        f'<p class="muted">… {len(t.rows) - max_rows} more rows (report.max_table_rows)</p>'
        if len(t.rows) > max_rows
        else ""
    )
    caption = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    return (
        '<div class="tablewrap"><table class="results">'
        + caption
        + "<thead><tr>"
        + "".join(f"<th>{escape(c)}</th>" for c in t.columns)
        + "</tr></thead><tbody>"
        + "".join(_row(r, t.digits) for r in rows)
        + f"</tbody></table></div>{more}"
    )


def scalar_items(data: Any) -> tuple[dict[str, Any], int]:
    """Top-level scalar values of a metrics JSON and how many values sit deeper (nested)."""
    if not isinstance(data, dict):
        return {}, 0

    def count(v: Any) -> int:
        if isinstance(v, dict):
            return sum(count(x) for x in v.values())
        if isinstance(v, list):
            return sum(count(x) for x in v)
        return 1

    flat = {k: v for k, v in data.items() if v is None or isinstance(v, (str, int, float, bool))}
    return flat, sum(count(v) for k, v in data.items() if k not in flat)
