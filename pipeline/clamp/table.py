"""NotaGen's evaluation table per CLaMP-DPO iteration K, next to the ground-truth row.

Columns: average CLaMP score (both estimators), bar-alignment error rate (every sample; a piece
cut by a cap is checked on its complete lines, one whose rests cannot be restored fails), period and
instrumentation label accuracy (logistic-regression probes on scorer features of real training
pieces, applied to each sample with its prompt's labels as the target), held-out perplexity,
validity rate and plagiarism rate. The ground-truth row scores the held-out real pieces the same
way (their own labels; no perplexity, every piece valid).
"""

from __future__ import annotations

import math
import random

import numpy as np

from pipeline.clamp.scores import max_similarity, mean_cosine_score, set_mean_score

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


def fit_probe(feats: np.ndarray, labels: list[str], c: float):
    """StandardScaler + LogisticRegression, or None when fewer than two classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(labels)) < 2:
        return None
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(feats, labels)


def probe_accuracy(probe, feats: np.ndarray, labels: list[str]) -> float | None:
    if probe is None or len(feats) == 0:
        return None
    return float(np.mean(probe.predict(feats) == np.asarray(labels)))


def alignment_errors(texts: list[str], check) -> tuple[int, dict[str, int]]:
    """Pieces failing the bar-alignment check, and the first words of each reason."""
    bad, why = 0, {}
    for t in texts:
        ok, reason = check(t)
        if not ok:
            bad += 1
            key = reason.split(":")[0][:40]
            why[key] = why.get(key, 0) + 1
    return bad, why


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
) -> tuple[list, dict]:
    """One table row and its details (counts, reasons)."""
    n = len(feats)
    bad, why = alignment_errors(aligned_texts, check)
    acc = {t: probe_accuracy(probes.get(t), feats, labels[t]) for t in TASKS}
    plag = float(np.mean(max_similarity(feats, reference) > plagiarism)) if n else None
    vals = [
        name,
        mean_cosine_score(feats, reference) if n else None,
        set_mean_score(feats, reference) if n else None,
        bad / len(aligned_texts) if aligned_texts else None,
        acc["period"],
        acc["instrumentation"],
        ppl,
        float(np.mean(valid)) if n else None,
        plag,
        n,
    ]
    return vals, {"alignment_failures": why, "checked": len(aligned_texts)}


def perplexity(model, texts: list[str], seed: int = 0) -> float | None:
    """exp(mean negative char log-prob) of a NotaGen model over texts cropped to its context."""
    import torch

    from pipeline.notagen.model import logprob
    from pipeline.notagen.patchilizer import patchify

    total, chars = 0.0, 0
    with torch.no_grad():
        for i, t in enumerate(texts):
            p = patchify(t, patch_length=model.config.patch_length, rng=random.Random(seed + i))
            total += float(logprob(model.eval(), p))
            chars += int((p[1:] != 0).sum())
    return math.exp(-total / chars) if chars else None
