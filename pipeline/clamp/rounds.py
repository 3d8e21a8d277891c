"""One round of CLaMP-DPO data: sample N pieces per prompt from a policy, restore their rests,
extract CLaMP features and score them against the fine-tune set (both estimators).

Each sample is seeded by (seed, round, prompt, index), so a killed round resumes from its partial
``samples.partial.jsonl`` and gives the same pieces as an uninterrupted one.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.clamp.corpus import AbcPiece
from pipeline.clamp.patches import drop_comment_lines
from pipeline.clamp.scores import max_similarity, piece_scores, score_all


def generated_length(piece: AbcPiece) -> int:
    """Characters the model writes for this piece: the training text without prompt lines,
    rest-reduced, each body line with its ``[r:i/j]`` tag (what ``max_chars`` counts)."""
    from pipeline.notagen.data import training_text
    from pipeline.notagen.rests import reduce_rests

    text = training_text(piece.text, keep_prompt=False)
    try:
        text = reduce_rests(text)
    except ValueError:  # AbcError: count the text as it is
        pass
    body = [ln for ln in text.split("\n") if ln.startswith("[V:")]
    n = len(body)
    return len(text) + sum(len(f"[r:{i}/{n - 1 - i}]") for i in range(n))


def prompt_table(pieces: list[AbcPiece]) -> list[dict]:
    """Per fine-tune triple: pieces and the median generated length, most frequent first."""
    lengths: dict[tuple[str, str, str], list[int]] = {}
    for p in pieces:
        lengths.setdefault(p.prompt, []).append(generated_length(p))
    rows = [{"triple": t, "pieces": len(v), "median_chars": int(np.median(v))} for t, v in lengths.items()]
    return sorted(rows, key=lambda r: (-r["pieces"], r["triple"]))


def prompt_triples(
    pieces: list[AbcPiece], n: int, explicit=None, max_chars: int | None = None
) -> list[tuple[str, str, str]]:
    """The ``explicit`` triples (each must occur in the fine-tune set: an unknown one is a named
    error), else the ``n`` most frequent ones whose median piece fits in ``max_chars`` generated
    characters (a prompt whose pieces cannot end within the cap never yields a complete sample,
    so it could never give a chosen piece); when fewer fit, the shortest others fill up."""
    counts = Counter(p.prompt for p in pieces)
    if explicit:
        unknown = [tuple(t) for t in explicit if tuple(t) not in counts]
        if unknown:
            raise ValueError(f"abc_dpo.prompt_list: {unknown} not in the fine-tune set; known: {sorted(counts)[:12]}")
        return [tuple(t) for t in explicit]
    if max_chars is None:
        return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
    rows = prompt_table(pieces)
    fit = [r["triple"] for r in rows if r["median_chars"] <= max_chars]
    rest = [
        r["triple"]
        for r in sorted(rows, key=lambda r: (r["median_chars"], -r["pieces"], r["triple"]))
        if r["median_chars"] > max_chars
    ]
    return (fit + rest)[:n]


def sample_seed(seed: int, k: int, prompt: int, j: int) -> int:
    return int(np.random.SeedSequence([seed, k, prompt, j]).generate_state(1)[0])


def scoring_text(sample: dict) -> str:
    """What CLaMP scores: the rest-restored interleaved ABC, else the tag-stripped raw text."""
    from pipeline.notagen.rests import strip_stream_tags

    text = sample["interleaved"] if sample.get("interleaved") else strip_stream_tags(sample["text"])
    text = drop_comment_lines(text)
    return text if text.endswith("\n") else text + "\n"


def alignment_text(sample: dict) -> str | None:
    """Interleaved text the bar-alignment check reads: the restored piece, or for a piece cut by a
    cap, its complete lines with rests restored; None when the rests cannot be restored."""
    from pipeline.notagen.rests import restore_rests

    if sample.get("interleaved"):
        return sample["interleaved"]
    text = sample["text"]
    restored, _ = restore_rests(text[: text.rfind("\n") + 1])
    return restored


def sample_round(
    policy,
    prompts: list[tuple[str, str, str]],
    per_prompt: int,
    sampling: dict,
    seed: int,
    k: int,
    partial: Path,
    fp: str,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 8,
) -> list[dict]:
    """``per_prompt`` pieces for each prompt triple; resumes from ``partial`` rows of fingerprint ``fp``.

    The missing pieces of a prompt are generated ``chunk`` at a time with ``generate_batch`` (each
    piece on its own seeded generator: the texts ``generate(seed=s)`` gives, ~3x fewer CPU
    seconds); a chunk's time cap is ``max_seconds`` per piece in it."""
    from pipeline.notagen.batch_generation import generate_batch

    done: dict[tuple[int, int], dict] = {}
    if partial.is_file():
        for line in partial.read_text().splitlines():
            row = json.loads(line)
            if row.get("fp") == fp:
                done[(row["prompt"], row["j"])] = row
    total, n_done = len(prompts) * per_prompt, len(done)
    with open(partial, "a" if done else "w", encoding="utf-8") as fh:
        for pi, triple in enumerate(prompts):
            todo = [j for j in range(per_prompt) if (pi, j) not in done]
            for start in range(0, len(todo), chunk):
                js = todo[start : start + chunk]
                seeds = [sample_seed(seed, k, pi, j) for j in js]
                kw = sampling | {"max_seconds": sampling["max_seconds"] * len(js)}
                for j, s, g in zip(js, seeds, generate_batch(policy, [f"%{x}" for x in triple], seeds=seeds, **kw)):
                    row = {
                        "fp": fp,
                        "prompt": pi,
                        "j": j,
                        "seed": s,
                        "period": triple[0],
                        "composer": triple[1],
                        "instrumentation": triple[2],
                        "text": g.text,
                        "interleaved": g.interleaved,
                        "stop": g.stop,
                        "complete": g.complete,
                        "restore_error": g.restore_error,
                        "chars": g.chars,
                        "seconds": round(g.seconds, 3),
                    }
                    fh.write(json.dumps(row, sort_keys=True) + "\n")
                    done[(pi, j)] = row
                fh.flush()
                n_done += len(js)
                if progress:
                    progress(n_done, total)
    return [done[(pi, j)] for pi in range(len(prompts)) for j in range(per_prompt)]


def score_round(scorer, samples: list[dict], reference: np.ndarray) -> tuple[np.ndarray, dict]:
    """(features [N, D], scores: per-piece CLaMP score, max similarity to a training piece, both
    estimators over all pieces and over complete pieces)."""
    feats = scorer.music_features_batch([scoring_text(s) for s in samples])
    per = piece_scores(feats, reference)
    sim = max_similarity(feats, reference)
    ok = np.array([bool(s["complete"]) for s in samples])
    summary = {
        "all": score_all(feats, reference),
        "n": len(samples),
        "complete": int(ok.sum()),
        "complete_scores": score_all(feats[ok], reference) if ok.any() else None,
        "piece_scores": [round(float(x), 6) for x in per],
        "max_similarity": [round(float(x), 6) for x in sim],
        "stops": dict(Counter(s["stop"] for s in samples)),
    }
    return feats, summary
