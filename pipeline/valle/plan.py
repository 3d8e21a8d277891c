"""Which held-out segments to synthesise, and which recording prompts each (pure, seeded).

For a target recording (piece A, condition c) the prompt comes from another recording of another
piece in another condition (MIDI-VALLE's cross-piece prompting; the condition is what the prompt
carries). When the corpus has no such recording, the nearest fallback is taken and named:
``other_piece_same_condition`` or ``same_piece_other_condition``. Targets come from the test
split, else val, else train (small corpora), and the split used is reported.
"""

from __future__ import annotations

from collections import defaultdict

from pipeline.data.splits import hash_fraction

SPLIT_ORDER = ("test", "val", "train")


class NoPromptError(ValueError):
    """No other recording exists to prompt with."""


def _by_recording(rows: list[dict]) -> dict[str, list[dict]]:
    recs: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        recs[r["recording_id"]].append(r)
    return {k: sorted(v, key=lambda r: r["start"]) for k, v in recs.items()}


def choose_prompt(target: dict, recs: dict[str, list[dict]], seed: int) -> tuple[str, str]:
    """(prompt recording id, how it relates to the target)."""

    def first(rule):
        found = [rid for rid, segs in recs.items() if rid != target["recording_id"] and rule(segs[0])]
        if not found:
            return None
        split_rank = {s: i for i, s in enumerate(SPLIT_ORDER)}
        return min(
            found,
            key=lambda rid: (
                split_rank.get(recs[rid][0]["split"], 9),
                hash_fraction(rid + target["recording_id"], seed),
            ),
        )

    rules = (
        (
            "other_piece_other_condition",
            lambda s: s["piece_id"] != target["piece_id"] and s["condition"] != target["condition"],
        ),
        ("other_piece_same_condition", lambda s: s["piece_id"] != target["piece_id"]),
        ("same_piece_other_condition", lambda s: s["condition"] != target["condition"]),
    )
    for name, rule in rules:
        rid = first(rule)
        if rid is not None:
            return rid, name
    raise NoPromptError(f"no recording other than {target['recording_id']} to take a prompt from")


def plan(rows: list[dict], recordings: int, max_segments: int, seed: int) -> tuple[str, list[dict]]:
    """(split used, [{"recording_id", "segments": [...], "prompt": {...}, "relation"}])."""
    if not rows:
        raise NoPromptError("no segments at all")
    recs = _by_recording(rows)
    split = next(s for s in SPLIT_ORDER + (None,) if s is None or any(r["split"] == s for r in rows))
    targets = sorted(
        (rid for rid, segs in recs.items() if segs[0]["split"] == split), key=lambda rid: hash_fraction(rid, seed)
    )[:recordings]
    out, budget = [], max_segments
    for rid in targets:
        if budget <= 0:
            break
        segs = recs[rid][:budget]
        budget -= len(segs)
        prompt_rid, relation = choose_prompt(segs[0], recs, seed)
        out.append({"recording_id": rid, "segments": segs, "prompt": recs[prompt_rid][0], "relation": relation})
    return split, out
