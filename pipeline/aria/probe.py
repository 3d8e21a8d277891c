"""The ``aria_probe`` stage's work: linear probes of every embedder on every task, plus retrieval.

Reads ``<embed>/<embedder>/`` (embeddings.npy + index.jsonl, retrieval.npy), optionally adds label
columns from an extra metadata file (Aria's eval-splits metadata.json or a CSV), then per task x
embedder trains the probe of ``pipeline/eval/linear_probe.py`` and scores it on held-out pieces
(accuracy, macro-F1, bootstrap 95% CIs, per-class F1, confusion matrix). Writes metrics.json,
results.json, table.md, confusion/<task>__<embedder>.png and headline.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from prefect import get_run_logger

from pipeline.data.jsonl import write_json
from pipeline.eval.linear_probe import ProbeConfig, plot_confusion, run_probe
from pipeline.eval.probe_report import embedder_dirs, load_embedder, merge_extra_metadata, metrics_json, table_md
from pipeline.eval.retrieval import retrieval_scores
from pipeline.orchestration.stage import hash_path
from pipeline.params.aria import AriaProbeParams
from pipeline.report.headline import ci, write_headline

RETRIEVAL = ("contrastive", "frozen_mean", "frozen_last", "handcrafted")


def _probe_cell(res: dict, metric: str):
    if "skipped" in res:
        return "skipped"
    lo, hi = (res.get("ci95") or {}).get(metric, (None, None))
    return ci(round(res[metric], 4), *((round(lo, 4), round(hi, 4)) if lo is not None else (None, None)))


def probe_headline(results: dict[str, dict[str, dict]], retrieval: dict[str, dict], header: str) -> dict:
    """The report's Aria headline (pipeline/report/headline.py): the probe table with its 95% CIs,
    the retrieval check, and per task the confusion matrix of the embedder with the best macro-F1."""
    embedders = list(dict.fromkeys(e for per in results.values() for e in per))
    rows, figures = [], []
    for task, per in results.items():
        done = {e: r for e, r in per.items() if "skipped" not in r}
        if not done:
            rows.append([task, "skipped", *["skipped"] * len(embedders), None])
            continue
        first = next(iter(done.values()))
        desc = f"{task} ({len(first['classes'])} classes, {first['n_train']} train / {first['n_test']} test)"
        rows.append(
            [
                desc,
                "accuracy",
                *[_probe_cell(per[e], "accuracy") if e in per else None for e in embedders],
                first["majority_accuracy"],
            ]
        )
        rows.append(["", "macro-F1", *[_probe_cell(per[e], "macro_f1") if e in per else None for e in embedders], None])
        best = max(done, key=lambda e: done[e]["macro_f1"])
        figures.append(f"confusion/{task}__{best}.png")
    tables = [
        {
            "caption": "Linear probes on held-out pieces: point estimate [95% bootstrap CI]; majority class = "
            "always predicting the most frequent training class.",
            "columns": ["task", "metric", *embedders, "majority class"],
            "rows": rows,
            "digits": 2,
        }
    ]
    if retrieval:
        tables.append(
            {
                "caption": "Retrieval: find the other slice of the same piece among all test pieces "
                "(cosine similarity, both directions averaged).",
                "columns": ["embedder", "pieces", "top-1", "top-5", "chance top-1", "chance top-5", "mean rank"],
                "rows": [
                    [e, r["n"], r["top1"], r["top5"], r["chance_top1"], r["chance_top5"], r["mean_rank"]]
                    for e, r in retrieval.items()
                ],
                "digits": 2,
            }
        )
    return {
        "family": "aria",
        "family_title": "Aria",
        "title": "What the embeddings know: linear probes",
        "order": 10,
        "text": header,
        "tables": tables,
        "figures": figures,
    }


def embedder_weights(embed_dir: Path, names: list[str]) -> dict[str, dict | None]:
    """{embedding: the weights it came from (None for features)} as aria_embed recorded them in
    stats.json; empty for an embed dir written before stats.json named them (nothing to claim)."""
    stats = json.loads((embed_dir / "stats.json").read_text()) if (embed_dir / "stats.json").is_file() else {}
    entries = {name: (stats.get("embeddings") or {}).get(name, {}) for name in names}
    if not any("weights" in e for e in entries.values()):
        return {}
    return {name: e.get("weights") for name, e in entries.items()}


def weights_line(weights: dict[str, dict | None]) -> str:
    """One sentence naming the weights behind each embedding, so a table is never read without
    knowing which checkpoint it scored (released file + hash, or trained here)."""
    by_model: dict[str, list[str]] = {}
    facts: dict[str, str] = {}
    for name, w in weights.items():
        if not w:
            continue
        by_model.setdefault(w["model"], []).append(name)
        init, steps = w.get("init"), w.get("steps")
        # no init: from scratch or from the DAG's own upstream model (aria_contrastive starts from
        # models/aria_pretrain), so claim neither
        origin = f" from `{init['path']}` (hash {init['hash']})" if init else ""
        if init and init["path"] == w["model"]:  # no model dir: the released file itself (clamp)
            facts[w["model"]] = f"read as released (hash {init['hash']})"
        elif steps == 0 and init:
            facts[w["model"]] = f"imported{origin}"
        else:
            facts[w["model"]] = f"trained {'' if steps is None else f'{steps} steps '}here{origin}"
    parts = [f"{', '.join(names)}: `{model}`, {facts[model]}" for model, names in by_model.items()]
    features = [name for name, w in weights.items() if not w]
    parts += [f"{name}: features, no weights" for name in features]
    return "Weights: " + "; ".join(parts) + "."


def probe_header(embed: str, pieces: int, cfg: ProbeConfig, weights: dict[str, dict | None] | None = None) -> str:
    """The protocol in one paragraph, above the tables, ending with the weights each embedding used."""
    return (
        f"Embeddings from `{embed}` ({pieces} pieces). Probe: {cfg.method}"
        + (
            f" (one nn.Linear, AdamW lr {cfg.lr:g}, weight decay {cfg.weight_decay:g}, {cfg.epochs} epochs, "
            f"batch {cfg.batch_size}, {cfg.warmup_steps} warm-up steps then linear decay to 10%)"
            if cfg.method == "linear"
            else " (sklearn LogisticRegression)"
        )
        + f"{', features standardised with train statistics' if cfg.standardize else ''}; "
        f"classes with fewer than k={cfg.min_class_count} pieces dropped; seed {cfg.seed}; "
        f"CIs from {cfg.bootstrap} bootstrap resamples of the test pieces."
        + (f" {weights_line(weights)}" if weights else "")
    )


def load_embeddings(embed_dir: Path, names: list[str] | None, extra_metadata: Path | None):
    """({embedder: dir}, {embedder: (x, rows)}, extra-metadata summary or None); every embedder must
    list the same pieces."""
    dirs = embedder_dirs(embed_dir, names)
    data = {name: load_embedder(d) for name, d in dirs.items()}
    ids = [r["id"] for r in next(iter(data.values()))[1]]
    for name, (_, rows) in data.items():
        if [r["id"] for r in rows] != ids:
            raise ValueError(f"{embed_dir}/{name}/index.jsonl lists other pieces than the other embedders: rerun embed")
    extra = None
    if extra_metadata:
        merged, extra = merge_extra_metadata(next(iter(data.values()))[1], extra_metadata)
        extra["sha256_16"] = hash_path(extra_metadata)  # the file is a param path, not a dep
        data = {name: (x, merged) for name, (x, _) in data.items()}
        get_run_logger().info("linear_probe: extra metadata %s", extra)
    return dirs, data, extra


def probe_all(data: dict, tasks: list[str], cfg: ProbeConfig, out: Path) -> dict[str, dict[str, dict]]:
    """{task: {embedder: probe result}}; a confusion-matrix PNG per probe that ran."""
    log, results = get_run_logger(), {}
    for task in tasks:
        results[task] = {}
        for name, (x, rows) in data.items():
            res = results[task][name] = run_probe(x, rows, task, cfg)
            if "skipped" in res:
                log.info("linear_probe %s / %s: skipped (%s)", task, name, res["skipped"])
                continue
            plot_confusion(
                res["confusion"],
                res["classes"],
                f"{task} / {name}: accuracy {res['accuracy']:.2f}, macro-F1 {res['macro_f1']:.2f} (n={res['n_test']})",
                out / "confusion" / f"{task}__{name}.png",
            )
            cis = {k: "[%.3f, %.3f]" % tuple(v) for k, v in res["ci95"].items()}
            log.info(
                "linear_probe %s / %s: accuracy %.3f %s, macro-F1 %.3f %s (%s, %d train / %d test)",
                task,
                name,
                res["accuracy"],
                cis.get("accuracy", ""),
                res["macro_f1"],
                cis.get("macro_f1", ""),
                res["protocol"],
                res["n_train"],
                res["n_test"],
            )
    return results


def retrieval_all(embed_dir: Path, dirs: dict[str, Path]) -> dict[str, dict]:
    """{embedder: retrieval scores} for the embedders with at least two retrieval pairs."""
    retrieval = {}
    for name in RETRIEVAL:
        path = embed_dir / name / "retrieval.npy"
        if name in dirs and path.is_file():
            views = np.load(path)
            if len(views) >= 2:
                retrieval[name] = retrieval_scores(views[:, 0], views[:, 1])
                get_run_logger().info("retrieval %s: %s", name, retrieval[name])
    return retrieval


def probe_embeddings(
    embed_dir: Path, embed_name: str, p: AriaProbeParams, out: Path, extra_metadata: Path | None = None
) -> dict | None:
    """Every probe and the retrieval check into ``out``; returns the extra-metadata summary (or None)."""
    cfg = ProbeConfig(**p.model_dump(include=set(ProbeConfig.__dataclass_fields__)))
    dirs, data, extra = load_embeddings(embed_dir, p.embedders, extra_metadata)
    pieces = len(next(iter(data.values()))[1])
    results = probe_all(data, p.tasks, cfg, out)
    retrieval = retrieval_all(embed_dir, dirs)
    weights = embedder_weights(embed_dir, list(dirs))
    header = probe_header(embed_name, pieces, cfg, weights)
    write_json(out / "metrics.json", metrics_json(results, retrieval))
    write_json(
        out / "results.json",
        {
            "tasks": results,
            "retrieval": retrieval,
            "extra_metadata": extra,
            "embedders": list(dirs),
            "weights": weights,
            "pieces": pieces,
        },
    )
    (out / "table.md").write_text(table_md(results, retrieval, header))
    write_headline(out, probe_headline(results, retrieval, header))
    return extra
