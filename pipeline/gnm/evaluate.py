"""gnm_eval's work: the style table and objective metrics of the generated pieces.

The style classifier labels every generated piece (the argmax of its mean class probability over
``windows`` bar-aligned windows); per model a row-normalised confusion matrix (conditioned x
predicted composer), per-composer and mean style accuracy; the generality model's pieces
(Composer_None) get the predicted-composer ratio. Pitch-class entropy, grooving-pattern
similarity and the structureness indicator SI short / mid / long (on rendered audio,
``pipeline.gnm.structure``) of generated vs real held-out pieces. Every accuracy, ratio and mean
carries a seeded 95% bootstrap interval over the pieces in a ``*_ci95`` sibling key.
``metrics.json``'s ``weights`` (and the headline's text) name the weights of every model row and
of the classifier: the released file a stage imported, or the params.pt trained here (path,
content hash, steps).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.config import repo_root
from pipeline.data.jsonl import write_json
from pipeline.data.token_store import TokenStore
from pipeline.eval.structureness import TIMESCALES
from pipeline.gnm.checkpoint import load, weights_used
from pipeline.gnm.classifier_job import classify_windows, piece_windows
from pipeline.gnm.data import Pieces
from pipeline.gnm.headline import copy_samples, generality_table, style_table, write_gnm_headline
from pipeline.gnm.metrics import (
    confusion,
    grooving_similarity,
    mean_interval,
    mean_or_none,
    pitch_class_entropy,
    predicted_ratio_intervals,
    row_normalise,
    style_accuracy,
    style_accuracy_intervals,
)
from pipeline.gnm.structure import generated_si, real_si
from pipeline.params.gnm import GnmEvalParams


def classify_samples(clf, classes: list[str], seq_len: int, gen_dir: Path, windows: int, seed: int) -> dict:
    """model -> its index entries + ``predicted`` composer, pitch-class entropy, grooving similarity, SI."""
    vocab = clf.vocab
    rows_by_model: dict[str, list[dict]] = {}
    for e in json.loads((gen_dir / "index.json").read_text())["samples"]:
        events = (gen_dir / e["txt"]).read_text().split()
        one = Pieces([np.asarray(vocab.encode(events), dtype=np.int64)], [e["composer"]], vocab)
        probs = classify_windows(clf, piece_windows(one, vocab, 0, seq_len, windows, seed), vocab.pad_id)
        rows_by_model.setdefault(e["model"], []).append(
            e
            | {
                "predicted": classes[int(probs.argmax())],
                "pce": pitch_class_entropy(events),
                "gs": grooving_similarity(events),
                "si": generated_si(gen_dir, e),
            }
        )
    return rows_by_model


SI_KEYS = tuple(TIMESCALES)  # short, mid, long
METRIC_KEYS = ("mean", "per_composer", "predicted_ratio", "mean_ci95", "per_composer_ci95", "predicted_ratio_ci95")


def objective_row(pce, gs, si, n: int, seed: int = 0) -> dict:
    """Each metric's mean over the pieces that have it, and its 95% interval as ``<metric>_ci95``."""
    si = list(si)
    per_piece = {
        "pitch_class_entropy": list(pce),
        "grooving_similarity": list(gs),
        **{f"si_{k}": [x[k] if x else None for x in si] for k in SI_KEYS},
    }
    out = {}
    for name, vals in per_piece.items():
        out[name] = mean_or_none(vals)
        out[f"{name}_ci95"] = mean_interval(vals, seed)
    return out | {"pieces": n}


def objective_metrics(rows_by_model: dict, real: list[list[str]], real_si: list[dict | None], seed: int = 0) -> dict:
    """Mean pitch-class entropy, grooving similarity and SI: real held-out pieces first, then each model."""
    out = {
        "real (held-out)": objective_row(
            map(pitch_class_entropy, real), map(grooving_similarity, real), real_si, len(real), seed
        )
    }
    for model, rows in rows_by_model.items():
        out[model] = objective_row(
            (r["pce"] for r in rows), (r["gs"] for r in rows), (r["si"] for r in rows), len(rows), seed
        )
    return out


def style_metrics(rows_by_model: dict, classes: list[str], out_dir: Path, seed: int = 0) -> tuple[dict, list[str]]:
    """Per model: the confusion matrix (+ its figure) and style accuracy; generality: predicted ratios;
    each with its 95% intervals."""
    style, figures = {}, []
    for model, rows in rows_by_model.items():
        preds = [r["predicted"] for r in rows]
        if model == "generality":
            style[model] = {
                "predicted_ratio": {c: round(preds.count(c) / len(preds), 4) for c in classes},
                "predicted_ratio_ci95": predicted_ratio_intervals(preds, classes, seed),
            }
            continue
        conditioned = [r["composer"] for r in rows]
        m = confusion(conditioned, preds, classes)
        style[model] = {
            "confusion": row_normalise(m).round(4).tolist(),
            "counts": m.tolist(),
            **style_accuracy(m, classes),
            **style_accuracy_intervals(conditioned, preds, classes, seed),
        }
        plot_confusion(
            row_normalise(m), classes, f"{model}: conditioned vs predicted", out_dir / f"confusion_{model}.png"
        )
        figures.append(f"confusion_{model}.png")
    return style, figures


def plot_confusion(m: np.ndarray, classes: list[str], title: str, dest) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(m, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                f"{m[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if m[i, j] > 0.5 else "black",
            )
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("conditioned", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(dest, dpi=90, metadata={"Software": None})
    plt.close(fig)


def evaluate(gen_dir: Path, cls_dir: Path, tokens_dir: Path, p: GnmEvalParams, seed: int, out_dir: Path) -> dict:
    """metrics.json, style.json, the confusion figures, the samples and headline.json; returns the metrics."""
    clf = load(cls_dir)
    meta = json.loads((cls_dir / "config.json").read_text())["meta"]
    classes, vocab = meta["classes"], clf.vocab
    rows_by_model = classify_samples(clf, classes, meta["seq_len"], gen_dir, p.windows, seed)
    store = TokenStore(tokens_dir / "val")
    real = [vocab.decode(store.piece(i)) for i, lab in enumerate(store.labels) if lab.get("gnm_composer") in classes]
    objective = objective_metrics(rows_by_model, real, real_si(real, gen_dir), seed)
    style, figures = style_metrics(rows_by_model, classes, out_dir, seed)
    samples = copy_samples(rows_by_model.get("mastery", []), classes, p.samples_per_composer, gen_dir, out_dir)
    # every row's weights (as gnm_generate recorded them) and the classifier's
    weights = json.loads((gen_dir / "index.json").read_text()).get("weights", {})
    weights = {**weights, "classifier": weights_used(cls_dir, repo_root())}
    metrics = {
        "style": {m: {k: v for k, v in s.items() if k in METRIC_KEYS} for m, s in style.items()},
        "objective": objective,
        "classes": classes,
        "weights": weights,
    }
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "style.json", {"style": style, "pieces": rows_by_model})
    write_gnm_headline(
        out_dir,
        classes,
        style_table(style, classes),
        objective,
        figures,
        samples,
        generality_table(style, classes),
        weights,
    )
    return metrics
