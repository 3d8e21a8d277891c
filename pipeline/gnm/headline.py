"""gnm_eval's page in the results site: the paper-shaped style table, objective metrics, samples."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.gnm.metrics import PAPER, PAPER_MEAN
from pipeline.report.headline import write_headline

MODELS = ("mastery", "scratch")  # the table's columns, next to the paper's


def style_table(style: dict, classes: list[str]) -> list[list]:
    """Per composer (then the mean): our mastery and scratch style accuracy, the paper's."""
    rows = [
        [c] + [style.get(m, {}).get("per_composer", {}).get(c) for m in MODELS] + list(PAPER.get(c, (None, None)))
        for c in classes
    ]
    return rows + [["mean"] + [style.get(m, {}).get("mean") for m in MODELS] + list(PAPER_MEAN)]


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


def write_gnm_headline(
    out_dir: Path, classes: list[str], table: list[list], objective: dict, figures: list[str], samples: list[dict]
) -> None:
    obj_rows = [
        [k, v["pitch_class_entropy"], v["grooving_similarity"], v.get("si_short"), v.get("si_mid"), v.get("si_long")]
        + [v["pieces"]]
        for k, v in objective.items()
    ]
    write_headline(
        out_dir,
        {
            "family": "gnm",
            "family_title": "Generality-to-Mastery",
            "title": "Style accuracy (GnM table)",
            "order": 10,
            "text": (
                "Style accuracy = share of generated pieces the style classifier (trained on real "
                f"pieces of {', '.join(classes)}) assigns to the conditioned composer. The paper's "
                "composers were Bach/Chopin/Mozart/Beethoven; its numbers are shown where they match."
            ),
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
            ],
            "figures": figures,
            "samples": samples,
        },
    )
