"""Style accuracy per generator row from families' style predictions
(:func:`pipeline.eval.samples_contract.write_style_predictions`): for each row conditioned on a
class the classifier knows, the share of its samples labelled with that class, with a 95%
bootstrap interval, and the confusion counts (conditioned x predicted). Rows conditioned on a
class the classifier does not know are left out (the family that made the predictions lists them,
e.g. reports/gnm_eval/foreign_style.json)."""

from __future__ import annotations

from pipeline.eval.frechet import mean_with_interval


def style_rows(sources: list[dict], n_boot: int, seed: int) -> dict:
    """{row: {"accuracy": cell, "pieces", "classifier", "classes", "confusion": {cond: {pred: n}}}}."""
    out: dict = {}
    for src in sources:
        classes = list(src["classes"])
        for p in src["predictions"]:
            if p["conditioned"] not in classes:
                continue
            row = out.setdefault(
                p["row"], {"classifier": src.get("classifier"), "classes": classes, "confusion": {}, "_hits": []}
            )
            row["_hits"].append(float(p["predicted"] == p["conditioned"]))
            by = row["confusion"].setdefault(p["conditioned"], {})
            by[p["predicted"]] = by.get(p["predicted"], 0) + 1
    for row in out.values():
        hits = row.pop("_hits")
        row["pieces"] = len(hits)
        row["accuracy"] = mean_with_interval(hits, n_boot=n_boot, seed=seed)
    return out
