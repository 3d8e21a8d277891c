"""Our interleaved-ABC writer against abctoolkit (NotaGen's toolkit) on a corpus.

Per piece (training text: no ``X:``, no prompt lines):
  round_trip   abctoolkit ``rotate_abc(unrotate_abc(text)) == text`` (our body layout is upstream's)
  aligned      un-rotate + ``check_alignment_unrotated``: equal barlines, bar counts, bar durations
  transposed   ``transpose_an_abc_text`` to C (via un-rotate/rotate) succeeds and stays aligned
  rests        rest reduction then restoration (ours) gives a text abctoolkit finds aligned
The summary counts each, with the first failures' reasons (docs/notagen.md quotes the numbers).
"""

from __future__ import annotations

import contextlib
import io

from pipeline.notagen.keys import TransposeError, round_trips, transpose
from pipeline.notagen.rests import reduce_rests, restore_rests


def aligned(text: str) -> tuple[bool, str]:
    """Upstream's check (RL/data.py): un-rotate, then ``check_alignment_unrotated``."""
    from abctoolkit.check import check_alignment_unrotated
    from abctoolkit.rotate import unrotate_abc

    lines = [line + "\n" for line in text.split("\n") if line.strip() and not line.startswith("%")]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # abctoolkit prints each odd bar
            flags = check_alignment_unrotated(unrotate_abc(lines))
    except Exception as e:  # noqa: BLE001
        return False, f"{type(e).__name__}: {e}"
    names = ("barlines", "bar counts", "bar durations")
    bad = [n for n, ok in zip(names, flags) if not ok]
    return not bad, "unequal " + ", ".join(bad) if bad else ""


def _tagged(text: str) -> str:
    lines = [line for line in text.split("\n") if line.strip()]
    body = [i for i, line in enumerate(lines) if line.startswith("[V:")]
    n = len(body)
    for k, i in enumerate(body):
        lines[i] = f"[r:{k}/{n - 1 - k}]" + lines[i]
    return "\n".join(lines) + "\n"


def piece_parity(text: str) -> dict[str, object]:
    out: dict[str, object] = {"round_trip": round_trips(text)}
    out["aligned"], why = aligned(text)
    if why:
        out["aligned_reason"] = why
    try:
        ok, why = aligned(transpose(text, "C"))
        out["transposed"] = ok
        if why:
            out["transposed_reason"] = why
    except TransposeError as e:
        out["transposed"], out["transposed_reason"] = False, str(e)
    try:
        restored, err = restore_rests(_tagged(reduce_rests(text)))
    except ValueError as e:
        restored, err = None, str(e)
    ok, why = aligned(restored) if restored else (False, err or "")
    out["rests"] = ok
    if why:
        out["rests_reason"] = why
    return out


def corpus_parity(pieces: list[tuple[str, str]], max_examples: int = 5) -> dict:
    """pieces: (id, training text). Counts per check and a few failing ids with reasons."""
    checks = ("round_trip", "aligned", "transposed", "rests")
    summary: dict = {"pieces": len(pieces), **{c: 0 for c in checks}, "failures": {c: [] for c in checks}}
    for pid, text in pieces:
        res = piece_parity(text)
        for c in checks:
            if res[c]:
                summary[c] += 1
            elif len(summary["failures"][c]) < max_examples:
                summary["failures"][c].append({"id": pid, "reason": res.get(f"{c}_reason", "")})
    return summary
