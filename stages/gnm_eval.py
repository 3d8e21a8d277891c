"""DVC stage ``gnm_eval``: the GnM style table and objective metrics.

The style classifier (models/gnm_classifier) labels every generated piece (majority of its mean
class probability over ``windows`` bar-aligned windows); per model a row-normalised confusion
matrix (conditioned x predicted composer), per-composer and mean style accuracy; the generality
model's pieces (Composer_None) get the predicted-composer ratio. Pitch-class entropy and
grooving-pattern similarity of generated vs real held-out pieces. ``reports/gnm_eval/``:
metrics.json, style.json, confusion PNGs, headline.json (the paper-shaped table + samples).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.token_store import TokenStore
from pipeline.gnm.classifier_job import classify_windows, piece_windows
from pipeline.gnm.data import Pieces
from pipeline.gnm.load import load
from pipeline.gnm.metrics import (
    PAPER, PAPER_MEAN, confusion, grooving_similarity, mean_or_none, pitch_class_entropy, row_normalise,
    style_accuracy,
)
from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.report.headline import write_headline

OUT, GEN, CLS, TOKENS = "reports/gnm_eval", "reports/gnm_generate", "models/gnm_classifier", "data/tokens/remi"


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
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("conditioned", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(dest, dpi=90, metadata={"Software": None})
    plt.close(fig)


@flow(name="gnm_eval")
def gnm_eval() -> None:
    log = get_run_logger()
    base, p, root = load_section("base"), load_section("gnm_eval"), repo_root()
    clf = load(root / CLS)
    classes = json.loads((root / CLS / "config.json").read_text())["meta"]["classes"]
    seq_len = json.loads((root / CLS / "config.json").read_text())["meta"]["seq_len"]
    vocab = clf.vocab
    index = json.loads((root / GEN / "index.json").read_text())
    rng_seed = base.seed
    rows_by_model: dict[str, list[dict]] = {}
    for e in index["samples"]:
        events = (root / GEN / e["txt"]).read_text().split()
        ids = np.asarray(vocab.encode(events), dtype=np.int64)
        one = Pieces([ids], [e["composer"]], vocab)
        probs = classify_windows(clf, piece_windows(one, vocab, 0, seq_len, p.windows, rng_seed), vocab.pad_id)
        rows_by_model.setdefault(e["model"], []).append(
            e | {"predicted": classes[int(probs.argmax())], "pce": pitch_class_entropy(events),
                 "gs": grooving_similarity(events)})
    real = TokenStore(root / TOKENS / "val")
    real_rows = [vocab.decode(real.piece(i)) for i, lab in enumerate(real.labels) if lab.get("gnm_composer") in classes]
    objective = {"real (held-out)": {"pitch_class_entropy": mean_or_none(map(pitch_class_entropy, real_rows)),
                                     "grooving_similarity": mean_or_none(map(grooving_similarity, real_rows)),
                                     "pieces": len(real_rows)}}
    style, figures = {}, []
    with StageOutputs("gnm_eval", [OUT]) as out:
        for model, rows in rows_by_model.items():
            objective[model] = {"pitch_class_entropy": mean_or_none(r["pce"] for r in rows),
                                "grooving_similarity": mean_or_none(r["gs"] for r in rows), "pieces": len(rows)}
            preds = [r["predicted"] for r in rows]
            if model == "generality":
                style[model] = {"predicted_ratio": {c: round(preds.count(c) / len(preds), 4) for c in classes}}
                continue
            m = confusion([r["composer"] for r in rows], preds, classes)
            style[model] = {"confusion": row_normalise(m).round(4).tolist(), "counts": m.tolist(),
                            **style_accuracy(m, classes)}
            plot_confusion(row_normalise(m), classes, f"{model}: conditioned vs predicted",
                           out[OUT] / f"confusion_{model}.png")
            figures.append(f"confusion_{model}.png")
        table = []
        for c in classes:
            paper = PAPER.get(c, (None, None))
            table.append([c] + [style.get(m, {}).get("per_composer", {}).get(c) for m in ("mastery", "scratch")]
                         + list(paper))
        table.append(["mean"] + [style.get(m, {}).get("mean") for m in ("mastery", "scratch")] + list(PAPER_MEAN))
        samples = []
        for c in classes:
            picks = [r for r in rows_by_model.get("mastery", []) if r["composer"] == c][: p.samples_per_composer]
            for r in picks:
                dest = out[OUT] / "samples" / f"{c}_{r['index']}"
                dest.parent.mkdir(exist_ok=True)
                files = {}
                for kind, ext in (("audio", "flac"), ("midi", "mid"), ("image", "png")):
                    if r.get(kind):
                        shutil.copyfile(root / GEN / r[kind], f"{dest}.{ext}")
                        files[kind] = [f"samples/{c}_{r['index']}.{ext}"]
                samples.append({"name": f"{c} (mastery) #{r['index']}", "caption":
                                f"Composer_{c}, classified as {r['predicted']}; {r['events']} events", **files})
        metrics = {"style": {m: {k: v for k, v in s.items() if k in ("mean", "per_composer", "predicted_ratio")}
                             for m, s in style.items()},
                   "objective": objective, "classes": classes}
        write_json(out[OUT] / "metrics.json", metrics)
        write_json(out[OUT] / "style.json", {"style": style, "pieces": rows_by_model})
        obj_rows = [[k, v["pitch_class_entropy"], v["grooving_similarity"], v["pieces"]] for k, v in objective.items()]
        write_headline(out[OUT], {
            "family": "gnm", "family_title": "Generality-to-Mastery", "title": "Style accuracy (GnM table)",
            "order": 10,
            "text": ("Style accuracy = share of generated pieces the style classifier (trained on real "
                     f"pieces of {', '.join(classes)}) assigns to the conditioned composer. The paper's "
                     "composers were Bach/Chopin/Mozart/Beethoven; its numbers are shown where they match."),
            "tables": [{"caption": "Style accuracy per composer: mastery (adapters) vs scratch",
                        "columns": ["composer", "mastery", "scratch", "paper mastery", "paper scratch"],
                        "rows": table, "digits": 2},
                       {"caption": "Objective metrics, generated vs real",
                        "columns": ["pieces from", "pitch-class entropy", "grooving similarity", "pieces"],
                        "rows": obj_rows, "digits": 3}],
            "figures": figures, "samples": samples})
        out.commit(params_dump("base", "gnm_eval"), inputs=[GEN, CLS, TOKENS], seed=base.seed)
    log.info("gnm_eval: %s", metrics["style"])


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_eval)
