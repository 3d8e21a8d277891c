"""The score table's report cards: per K the best-scoring sample that passes the checks (else the best
complete one), rendered as ABC, MusicXML, MIDI and audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.clamp.preferences import piece_check
from pipeline.notagen.abc_check import validate_interleaved
from pipeline.notagen.parity import aligned
from pipeline.notagen.render import ScoreRenderError, write_piece
from pipeline.params.clamp import AbcScoreTableParams


def render(out_dir: Path, name: str, sample: dict, p: AbcScoreTableParams) -> dict:
    """ABC, MusicXML, MIDI and audio of one sample; a failure is recorded, never fatal."""
    try:
        return write_piece(
            out_dir, name, sample["text"], sample["interleaved"], sample_rate=p.sample_rate, max_seconds=p.audio_seconds
        )
    except ScoreRenderError as e:
        found = {f.suffix.lstrip("."): f.name for f in out_dir.glob(f"{name}.*")}
        return {k: v for k, v in found.items() if k in ("abc", "musicxml", "mid")} | {"error": str(e)[:300]}


def sample_check(rows_k: list[dict], max_similarity, plagiarism: float):
    """The checks a rendered sample should pass, cheapest first: abc_dpo's chosen-side checks
    (complete, no near copy, instruments grouped, upstream's bar alignment) and the table's own
    (validate_interleaved). Returns check(i) -> (ok, reason)."""
    texts = [r["interleaved"] if r["complete"] else None for r in rows_k]
    chosen = piece_check(texts, np.asarray(max_similarity), plagiarism, aligned)

    def check(i: int) -> tuple[bool, str]:
        ok, why = chosen(i)
        return validate_interleaved(texts[i]) if ok else (ok, why)

    return check


def pick(rows_k: list[dict], scores: list[float], n: int, check) -> list[tuple[int, str]]:
    """The ``n`` best-scoring complete samples that pass ``check``, topped up with the best
    complete ones that do not (each named: "best valid" or "fallback, <reason>")."""
    best = sorted((i for i, r in enumerate(rows_k) if r["complete"]), key=lambda i: -scores[i])
    valid, failed = [], []
    for i in best:
        if len(valid) == n:
            break
        ok, why = check(i)
        (valid if ok else failed).append((i, "best valid sample" if ok else f"fallback, fails the checks: {why}"))
    return valid + failed[: n - len(valid)]


def cards(
    rep: Path, k: int, rows_k: list[dict], scores: list[float], check, p: AbcScoreTableParams, info: dict
) -> list[dict]:
    """Render the ``render_per_k`` picked samples of round k (:func:`pick`); one report card each."""
    out = []
    for n, (i, why) in enumerate(pick(rows_k, scores, p.render_per_k, check)):
        files = render(rep / "samples", f"k{k}_{n}", rows_k[i], p)
        info.setdefault("rendered", []).append(files | {"index": i, "picked": why})
        prompt = " / ".join(rows_k[i][f] for f in ("period", "composer", "instrumentation"))
        card = {
            "name": f"K={k}, sample {i}",
            "caption": f"{prompt}; CLaMP score {scores[i]:.3f}; {why[:120]}"
            + (f"; not rendered: {files['error']}" if "error" in files else ""),
        }
        midi = files.get("midi") or files.get("mid")
        if midi:
            card["midi"] = [f"samples/{midi}"]
        if "audio" in files:
            card["audio"] = [f"samples/{files['audio']}"]
        out.append(card)
    return out
