"""HTML rendering of the report: JSON as tables, the page skeleton, inline CSS.

No external resources: the only script is a few inline lines that mark each image and audio
element as loaded or broken (``data-ok``), which the headless-browser test reads back.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote

SCALARS = (str, int, float, bool, type(None))

CSS = """
:root { --fg:#1d2430; --muted:#66707f; --line:#d9dee7; --accent:#3b6fb6; --bg2:#f6f8fb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--fg); }
header { padding:18px 28px; background:#1f3350; color:#fff; }
header h1 { margin:0; font-size:22px; } header p { margin:4px 0 0; color:#c9d6ea; }
nav { position:sticky; top:0; z-index:2; background:#fff; border-bottom:1px solid var(--line);
      padding:8px 28px; display:flex; flex-wrap:wrap; gap:6px 14px; }
nav a { color:var(--accent); text-decoration:none; font-size:13px; }
main { padding:8px 28px 40px; max-width:1400px; }
section { border-bottom:1px solid var(--line); padding:10px 0 18px; }
h2 { font-size:19px; margin:18px 0 8px; } h3 { font-size:15px; margin:14px 0 6px; color:#2c3e5c; }
h4, h5, h6 { font-size:13px; margin:10px 0 4px; }
table { border-collapse:collapse; margin:6px 0 10px; font-size:12.5px; }
th, td { border:1px solid var(--line); padding:3px 8px; text-align:left; vertical-align:top; }
th { background:var(--bg2); } td.num { text-align:right; font-variant-numeric:tabular-nums; }
.muted { color:var(--muted); font-size:12px; }
.dagwrap { overflow-x:auto; border:1px solid var(--line); border-radius:6px; padding:6px; background:#fff; }
.grid { display:flex; flex-wrap:wrap; gap:14px; }
figure { margin:0; } figure img { max-width:100%; border:1px solid var(--line); border-radius:4px; }
figcaption { font-size:12px; color:var(--muted); }
.curve img { max-width:1100px; } .gallery img { max-height:380px; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px; width:440px; background:var(--bg2); }
.card img { width:100%; max-height:260px; object-fit:contain; background:#fff; }
.card audio { width:100%; margin-top:6px; }
.card h4 { margin:0 0 6px; } code, pre { background:var(--bg2); border-radius:4px; }
pre { padding:8px; overflow-x:auto; font-size:12px; }
img.broken { outline:3px solid #c0392b; }
details summary { cursor:pointer; color:var(--accent); }
.blocks { display:flex; flex-wrap:wrap; gap:4px 22px; align-items:flex-start; }
.blocks .blocks { gap:0 16px; }
section.family > h2 { font-size:21px; border-left:5px solid var(--accent); padding-left:10px; }
.headline { margin:6px 0 16px; } .headline > h3 { font-size:16px; }
.tablewrap { overflow-x:auto; max-width:100%; }
table.results { font-size:13px; } table.results caption { caption-side:top; text-align:left;
  color:var(--muted); font-size:12px; padding:2px 0 4px; max-width:900px; }
table.results td.num { white-space:nowrap; } .ci { color:var(--muted); font-size:11.5px; }
table.metrics th:first-child, table.metrics td:first-child { position:sticky; left:0; background:#fff; }
.figures img { max-height:300px; } .problems { color:#a33; font-size:12px; }
.more { font-size:15px; } .more a { font-weight:600; }
"""

CHECK_JS = """
(function () {
  function mark() {
    var imgs = document.querySelectorAll('img'), ok = 0;
    imgs.forEach(function (im) {
      var good = im.complete && im.naturalWidth > 0;
      im.setAttribute('data-ok', good ? '1' : '0');
      if (good) { ok++; } else { im.classList.add('broken'); }
    });
    document.body.setAttribute('data-images', ok + '/' + imgs.length);
  }
  document.querySelectorAll('audio').forEach(function (a) {
    a.addEventListener('loadedmetadata', function () {
      a.setAttribute('data-ok', '1'); a.setAttribute('data-duration', a.duration.toFixed(2));
    });
    a.addEventListener('error', function () { a.setAttribute('data-ok', '0'); });
  });
  if (document.readyState === 'complete') { mark(); } else { window.addEventListener('load', mark); }
})();
"""


def url(path: str) -> str:
    return quote(path, safe="/")


def _cell(v: Any) -> str:
    if isinstance(v, float):
        text = f"{v:.6g}"
    elif isinstance(v, (list, tuple)) and all(isinstance(x, SCALARS) for x in v):
        text = ", ".join(str(x) for x in v)
    elif isinstance(v, SCALARS):
        text = "" if v is None else str(v)
    else:
        text = json.dumps(v, sort_keys=True, default=str)
        text = text if len(text) < 300 else text[:297] + "…"
    cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
    return f"<td{cls}>{escape(text)}</td>"


def table(header: list[str], rows: list[list[Any]], max_rows: int = 200) -> str:
    body = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in rows[:max_rows])
    more = f'<p class="muted">… {len(rows) - max_rows} more rows</p>' if len(rows) > max_rows else ""
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{escape(str(h))}</th>" for h in header)
        + f"</tr></thead><tbody>{body}</tbody></table>{more}"
    )


def kv_table(rows: list[list[Any]]) -> str:
    """A small key/value table without a header row (sample captions)."""
    return (
        '<table class="kv"><tbody>'
        + "".join(f"<tr><th>{escape(str(k))}</th>{_cell(v)}</tr>" for k, v in rows)
        + "</tbody></table>"
    )


def _is_scalar_map(d: Any) -> bool:
    return (
        isinstance(d, dict)
        and bool(d)
        and all(
            isinstance(v, SCALARS) or (isinstance(v, list) and all(isinstance(x, SCALARS) for x in v))
            for v in d.values()
        )
    )


def json_html(data: Any, max_rows: int = 200, depth: int = 0) -> str:
    """Scalars as key/value, a dict of scalar dicts as a matrix, records as a table,
    a list of number lists (a confusion matrix) as a grid; deeper nesting by heading."""
    if isinstance(data, SCALARS):
        return f"<p>{escape(str(data))}</p>"
    if _is_scalar_map(data):
        return table(["key", "value"], [[k, v] for k, v in data.items()], max_rows)
    if isinstance(data, dict) and data and all(_is_scalar_map(v) for v in data.values()):
        cols = list(dict.fromkeys(c for v in data.values() for c in v))
        if len(cols) <= 16:
            return table(["", *cols], [[k, *[v.get(c, "") for c in cols]] for k, v in data.items()], max_rows)
    if isinstance(data, list) and data and all(_is_scalar_map(r) for r in data):
        cols = list(dict.fromkeys(c for r in data for c in r))
        return table(cols, [[r.get(c, "") for c in cols] for r in data], max_rows)
    if (
        isinstance(data, list)
        and data
        and all(isinstance(r, list) and all(isinstance(x, (int, float)) for x in r) for r in data)
    ):
        return table(["", *range(len(data[0]))], [[i, *r] for i, r in enumerate(data)], max_rows)
    if isinstance(data, list) and all(isinstance(x, SCALARS) for x in data):
        return f"<p>{escape(', '.join(str(x) for x in data[:max_rows]))}</p>"
    if isinstance(data, dict) and not data:
        return '<p class="muted">(empty)</p>'
    if isinstance(data, dict) and depth < 3:  # scalars first, then each nested key as a block
        scalars = {k: v for k, v in data.items() if isinstance(v, SCALARS)}
        out = [table(["key", "value"], [[k, v] for k, v in scalars.items()], max_rows)] if scalars else []
        level = min(4 + depth, 6)
        blocks = [
            f'<div class="blk"><h{level}>{escape(str(k))}</h{level}>{json_html(v, max_rows, depth + 1)}</div>'
            for k, v in data.items()
            if k not in scalars
        ]
        if blocks:
            out.append('<div class="blocks">' + "".join(blocks) + "</div>")
        return "".join(out)
    text = json.dumps(data, indent=1, sort_keys=True, default=str)
    return f"<pre>{escape(text[:20000])}</pre>"


def audio_tag(src: str) -> str:
    return f'<audio controls preload="metadata" src="{escape(url(src))}"></audio>'


def img_tag(src: str, alt: str) -> str:
    return f'<img src="{escape(url(src))}" alt="{escape(alt)}" loading="eager">'


def page(title: str, subtitle: str, nav: list[tuple[str, str]], sections: list[str]) -> str:
    """``nav``: (href, text); an href is used as given (``#anchor`` or ``other.html``)."""
    links = "".join(f'<a href="{escape(h)}">{escape(t)}</a>' for h, t in nav)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>"
        f"<nav>{links}</nav><main>\n" + "\n".join(sections) + f"\n</main><script>{CHECK_JS}</script></body></html>\n"
    )
