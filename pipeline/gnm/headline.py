"""gnm_eval's page in the results site: the paper-shaped style table, objective metrics, samples.
Our numbers are ``{"value", "ci95"}`` cells (95% bootstrap intervals over the pieces)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.gnm.metrics import PAPER, PAPER_MEAN
from pipeline.report.headline import ci, write_headline

MODELS = ("mastery", "scratch")  # the table's columns, next to the paper's


def _cell(value, lo_hi) -> dict | float | None:
    return ci(value, *(lo_hi or (None, None)))


def style_table(style: dict, classes: list[str]) -> list[list]:
    """Per composer (then the mean): our mastery and scratch style accuracy with intervals, the paper's."""

    def acc(m: str, c: str):
        s = style.get(m, {})
        return _cell(s.get("per_composer", {}).get(c), s.get("per_composer_ci95", {}).get(c))

    rows = [[c] + [acc(m, c) for m in MODELS] + list(PAPER.get(c, (None, None))) for c in classes]
    mean = [_cell(style.get(m, {}).get("mean"), style.get(m, {}).get("mean_ci95")) for m in MODELS]
    return rows + [["mean"] + mean + list(PAPER_MEAN)]


def generality_table(style: dict, classes: list[str]) -> list[list]:
    """The generality model's pieces (Composer_None): share classified as each composer."""
    g = style.get("generality")
    if not g:
        return []
    return [[c, _cell(g["predicted_ratio"].get(c), g.get("predicted_ratio_ci95", {}).get(c))] for c in classes]


OBJECTIVE = ("pitch_class_entropy", "grooving_similarity", "si_short", "si_mid", "si_long")


def copy_samples(rows: list[dict], classes: list[str], per_composer: int, gen_dir: Path, out_dir: Path) -> list[dict]:
    """The first ``per_composer`` mastery pieces of each composer, copied under ``samples/``."""
    samples = []
    for c in classes:
        for r in [r for r in rows if r["composer"] == c][:per_composer]:
            dest = out_dir / "samples" / f"{c}_{r['index']}"
            dest.parent.mkdir(exist_ok=True)
            files = {}
            for kind, ext in (("audio", "flac"), ("midi", "mid"), ("image", "png")):
                if r.get(kind):
                    shutil.copyfile(gen_dir / r[kind], f"{dest}.{ext}")
                    files[kind] = [f"samples/{c}_{r['index']}.{ext}"]
            samples.append(
                {
                    "name": f"{c} (mastery) #{r['index']}",
                    "caption": f"Composer_{c}, classified as {r['predicted']}; {r['events']} events",
                    **files,
                }
            )
    return samples


def weights_text(weights: dict) -> str:
    """One sentence naming each model's weights: the released file, or the params.pt trained here."""

    def one(w: dict) -> str:
        how = "released, imported" if w.get("steps") == 0 else f"trained here, {w.get('steps')} steps"
        if w.get("init"):
            how += f" from {w['init']['path']}"
        return f"{w['path']} ({how}; content hash {w['hash']})"

    return "Weights: " + "; ".join(f"{name} {one(w)}" for name, w in weights.items()) + "." if weights else ""


def write_gnm_headline(
    out_dir: Path,
    classes: list[str],
    table: list[list],
    objective: dict,
    figures: list[str],
    samples: list[dict],
    generality: list[list] | None = None,
    weights: dict | None = None,
) -> None:
    obj_rows = [
        [k] + [_cell(v.get(m), v.get(f"{m}_ci95")) for m in OBJECTIVE] + [v["pieces"]] for k, v in objective.items()
    ]
    extra = [
        {
            "caption": "Generality model (Composer_None): share of its pieces classified as each composer",
            "columns": ["composer", "share"],
            "rows": generality,
            "digits": 2,
        }
    ]
    write_headline(
        out_dir,
        {
            "family": "gnm",
            "family_title": "Generality-to-Mastery",
            "title": "Style accuracy (GnM table)",
            "order": 10,
            "text": (
                "Style accuracy = share of generated pieces the style classifier (classes "
                f"{', '.join(classes)}) assigns to the conditioned composer. The paper's "
                "composers were Bach/Chopin/Mozart/Beethoven; its numbers are shown where they match. "
                "Our numbers carry 95% bootstrap intervals over the generated pieces. " + weights_text(weights or {})
            ).strip(),
            "tables": [
                {
                    "caption": "Style accuracy per composer: mastery (adapters) vs scratch",
                    "columns": ["composer", "mastery", "scratch", "paper mastery", "paper scratch"],
                    "rows": table,
                    "digits": 2,
                },
                {
                    "caption": "Objective metrics, generated vs real (SI on rendered audio, MusDr's timescales "
                    "3-8 s / 8-15 s / 15 s+)",
                    "columns": [
                        "pieces from",
                        "pitch-class entropy",
                        "grooving similarity",
                        "SI short",
                        "SI mid",
                        "SI long",
                        "pieces",
                    ],
                    "rows": obj_rows,
                    "digits": 3,
                },
            ]
            + (extra if generality else []),
            "figures": figures,
            "samples": samples,
        },
    )
