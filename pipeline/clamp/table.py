"""NotaGen's evaluation table per CLaMP-DPO iteration K, next to the ground-truth row.

Columns: average CLaMP score (both estimators), bar-alignment error rate (every sample; a piece
cut by a cap is checked on its complete lines, one whose rests cannot be restored fails), period and
instrumentation label accuracy (logistic-regression probes on scorer features of real training
pieces, applied to each sample with its prompt's labels as the target), held-out perplexity,
validity rate and plagiarism rate. The ground-truth row scores the held-out real pieces the same
way (their own labels; no perplexity, every piece valid). Every column but ``pieces`` gets a seeded
95% percentile-bootstrap interval over the row's pieces (perplexity: over the held-out texts, as
the ratio of summed log-probabilities to summed characters).
"""

from __future__ import annotations

import math
import random

import numpy as np

from pipeline.clamp.scores import max_similarity, mean_cosine_score, piece_scores, set_mean_score
from pipeline.eval.frechet import bootstrap_interval, mean_with_interval

COLUMNS = [
    "system",
    "CLaMP score",
    "CLaMP score (set means)",
    "bar-alignment error",
    "period acc",
    "instrumentation acc",
    "perplexity",
    "valid",
    "plagiarism",
    "pieces",
]
TASKS = ("period", "instrumentation")
N_BOOT = 1000  # bootstrap resamples per interval


def fit_probe(feats: np.ndarray, labels: list[str], c: float):
    """StandardScaler + LogisticRegression, or None when fewer than two classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(labels)) < 2:
        return None
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(feats, labels)


def probe_hits(probe, feats: np.ndarray, labels: list[str]) -> np.ndarray | None:
    """Per piece 1.0 where the probe predicts the piece's label, else 0.0."""
    if probe is None or len(feats) == 0:
        return None
    return (probe.predict(feats) == np.asarray(labels)).astype(np.float64)


def probe_accuracy(probe, feats: np.ndarray, labels: list[str]) -> float | None:
    hits = probe_hits(probe, feats, labels)
    return None if hits is None else float(hits.mean())


def alignment_failures(texts: list[str], check) -> list[str | None]:
    """Per text the first words of its bar-alignment failure, None where it passes."""
    out = []
    for t in texts:
        ok, reason = check(t)
        out.append(None if ok else reason.split(":")[0][:40])
    return out


def count_failures(reasons: list[str | None]) -> tuple[int, dict[str, int]]:
    why: dict[str, int] = {}
    for r in reasons:
        if r is not None:
            why[r] = why.get(r, 0) + 1
    return sum(why.values()), why


def alignment_errors(texts: list[str], check) -> tuple[int, dict[str, int]]:
    """Pieces failing the bar-alignment check, and the first words of each reason."""
    return count_failures(alignment_failures(texts, check))


def interval(values, seed: int = 0) -> list[float] | None:
    """95% bootstrap interval of the mean of per-piece values; None under two pieces (nothing to resample)."""
    if values is None or len(values) < 2:
        return None
    return mean_with_interval(np.asarray(values, dtype=np.float64), n_boot=N_BOOT, seed=seed)["ci95"]


def row(
    name: str,
    feats: np.ndarray,
    reference: np.ndarray,
    *,
    labels: dict[str, list[str]],
    probes: dict,
    valid: list[bool],
    aligned_texts: list[str],
    check,
    plagiarism: float,
    ppl: float | None,
    ppl_ci: list[float] | None = None,
    seed: int = 0,
) -> tuple[list, dict]:
    """One table row and its details: counts, reasons, and ``ci95``, per column the 95% interval or None."""
    n = len(feats)
    reasons = alignment_failures(aligned_texts, check)
    bad, why = count_failures(reasons)
    hits = {t: probe_hits(probes.get(t), feats, labels[t]) for t in TASKS}
    copies = (max_similarity(feats, reference) > plagiarism).astype(np.float64) if n else None
    vals = [
        name,
        mean_cosine_score(feats, reference) if n else None,
        set_mean_score(feats, reference) if n else None,
        bad / len(aligned_texts) if aligned_texts else None,
        *(None if hits[t] is None else float(hits[t].mean()) for t in TASKS),
        ppl,
        float(np.mean(valid)) if n else None,
        float(copies.mean()) if n else None,
        n,
    ]
    set_ci = None
    if n > 1:
        set_ci = list(bootstrap_interval(n, lambda i: set_mean_score(feats[i], reference), n_boot=N_BOOT, seed=seed))
    ci95 = [
        None,
        interval(piece_scores(feats, reference), seed) if n else None,
        set_ci,
        interval([r is not None for r in reasons], seed),
        *(interval(hits[t], seed) for t in TASKS),
        ppl_ci,
        interval(valid, seed) if n else None,
        interval(copies, seed),
        None,
    ]
    return vals, {"alignment_failures": why, "checked": len(aligned_texts), "ci95": ci95}


def text_logprobs(model, texts: list[str], seed: int = 0) -> list[tuple[float, int]]:
    """Per text (summed char log-prob, chars scored) under a NotaGen model, cropped to its context."""
    import torch

    from pipeline.notagen.model import logprob
    from pipeline.notagen.patchilizer import patchify

    out = []
    with torch.no_grad():
        for i, t in enumerate(texts):
            p = patchify(t, patch_length=model.config.patch_length, rng=random.Random(seed + i))
            out.append((float(logprob(model.eval(), p)), int((p[1:] != 0).sum())))
    return out


def pooled_perplexity(parts: list[tuple[float, int]]) -> float | None:
    """exp(-summed log-prob / summed chars) over the texts."""
    chars = sum(c for _, c in parts)
    return math.exp(-sum(lp for lp, _ in parts) / chars) if chars else None


def perplexity_interval(parts: list[tuple[float, int]], seed: int = 0) -> list[float] | None:
    """95% bootstrap interval of the pooled perplexity over resampled texts; None under two texts."""
    scored = [(x, c) for x, c in parts if c > 0]  # a text with no scored char adds nothing to either sum
    if len(scored) < 2:
        return None
    lp, chars = (np.array(col, dtype=np.float64) for col in zip(*scored))

    def pooled(idx: np.ndarray) -> float:
        return math.exp(-lp[idx].sum() / chars[idx].sum())

    return list(bootstrap_interval(len(scored), pooled, n_boot=N_BOOT, seed=seed))
