"""``ostinato eval SAMPLES_DIR --reference DIR``: one metric table for any folder of generated music.

Rows: the samples; the reference's own halves (one half scored against the other: the
real-vs-real ceiling); and two sanity rows made from that scored half (shuffled onsets, random
pitch with the real rhythm; :mod:`pipeline.eval.sanity`). Every row is scored against the same
held half of the reference. Cells: FMD and FMD-Inf on CLaMP 2 features (``--scorer``: our
``models/clamp_train`` by default, or a released CLaMP 2 ``.pth``), mgeval-style overlapping
areas of note statistics, and validity; each with a 95% bootstrap interval. Writes
``table.json`` and ``table.md`` to ``--out`` (refused when they exist, unless ``--force``).
Docs: docs/evaluation.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_SCORER = Path("models/clamp_train")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "samples",
        type=Path,
        nargs="+",
        metavar="SAMPLES_DIR",
        help="folder of generated MIDI (.mid) and ABC (.abc); several folders: one row each, scored in one run",
    )
    p.add_argument("--reference", required=True, type=Path, help="folder of held-out real pieces (MIDI or ABC)")
    p.add_argument(
        "--scorer",
        type=Path,
        default=DEFAULT_SCORER,
        help="CLaMP checkpoint for FMD: a .pth (ours or a released CLaMP 2) or a folder holding clamp.pth "
        "(default models/clamp_train)",
    )
    p.add_argument("--out", type=Path, help="output folder (default: eval-<SAMPLES_DIR name>)")
    p.add_argument("--force", action="store_true", help="overwrite an existing table in --out")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples per cell (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the reference split, baselines and bootstrap")
    p.add_argument("--estimator", default="oas", help="FMD Gaussian estimator: oas (default), mle, shrinkage, ...")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _scorer_path(p: Path) -> Path:
    path = p / "clamp.pth" if p.is_dir() else p
    if not path.is_file():
        raise FileNotFoundError(
            f"CLaMP scorer not found: {path} (build it with 'dvc repro clamp_train' or pass --scorer)"
        )
    return path


def _progress(enabled: bool, what: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return lambda items: tqdm(items, desc=what, unit="file", leave=False)


def run(args: argparse.Namespace) -> int:
    import tempfile
    import warnings

    import numpy as np
    from scipy.linalg import LinAlgWarning

    from pipeline.clamp import load, mtf
    from pipeline.commands.eval_samples import mtf_of, read_samples
    from pipeline.eval.frechet import ESTIMATORS
    from pipeline.eval.metric_table import Row, Sample, TableConfig, build_table, split_halves
    from pipeline.eval.sanity import random_pitch, shuffled_onsets, write_midi
    from pipeline.eval.table_writer import markdown, write_table

    if args.estimator not in ESTIMATORS:
        raise ValueError(f"--estimator must be one of {', '.join(ESTIMATORS)}, got {args.estimator!r}")
    if args.bootstrap < 10:
        raise ValueError(f"--bootstrap must be >= 10, got {args.bootstrap}")
    names = [d.resolve().name for d in args.samples]
    if len(set(names)) < len(names):
        raise ValueError(f"two samples folders share a name ({', '.join(names)}): rows are named by folder")
    out = args.out or Path(f"eval-{names[0]}")
    if (out / "table.json").exists() and not args.force:
        raise ValueError(f"{out}/table.json exists; pass --force to overwrite it")
    scorer = load(_scorer_path(args.scorer))
    show = not args.no_progress
    sample_sets = [read_samples(d, _progress(show, d.name)) for d in args.samples]
    reference = read_samples(args.reference, _progress(show, "reference"))
    if sum(s.valid for s in reference) < 4:
        raise ValueError(
            f"{args.reference}: needs at least 4 valid pieces to split in halves, has {sum(s.valid for s in reference)}"
        )
    scored, held = split_halves([s for s in reference if s.valid], seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="ostinato-eval-") as tmp:
        work = Path(tmp)

        def corrupt(f, s: Sample) -> Sample:
            piece = f(s.piece, seed=args.seed)
            return Sample(s.name, piece, text=mtf_of(piece, work, mtf, write_midi))

        shuffled = [corrupt(shuffled_onsets, s) for s in scored]
        pitched = [corrupt(random_pitch, s) for s in scored]
    rows = [
        *(Row(f"samples: {n}", s, str(d)) for n, s, d in zip(names, sample_sets, args.samples)),
        Row("reference half", scored, "the other half of the reference (real vs real: the ceiling)"),
        Row("shuffled onsets", shuffled, "the reference half with each note's onset redrawn in its piece's span"),
        Row("random pitch", pitched, "the reference half with uniform random pitches (A0..C8), rhythm kept"),
    ]
    everything = [s for r in rows for s in r.samples] + held
    todo = [s for s in everything if s.valid and s.text is not None]
    bar = _progress(show, "features")
    for s in bar(todo) if bar else todo:
        s.feature = scorer.music_features(s.text)
    kinds = {
        r.name: sorted(
            {"abc" if not (s.text or "").startswith("ticks_per_beat") else "midi" for s in r.samples if s.valid}
        )
        for r in rows
    }
    cfg = TableConfig(
        n_boot=args.bootstrap, n_boot_inf=max(10, args.bootstrap // 10), estimator=args.estimator, seed=args.seed
    )
    with warnings.catch_warnings():
        # a resample with repeated pieces makes a singular product; frechet_distance retries with eps
        warnings.simplefilter("ignore", LinAlgWarning)
        table = build_table(rows, held, cfg)
    mixed = [r.name for r in rows if kinds[r.name] not in ([], ["midi"])]
    if mixed:
        table["warnings"] = [
            f"{', '.join(mixed)}: reach CLaMP (partly) as ABC while the reference reaches it as MIDI (MTF): FMD "
            "then also measures the change of modality; compare such rows with each other, not with the MIDI rows"
        ]
    table.update(
        scorer=str(scorer.meta.get("path")),
        scorer_kind=scorer.meta.get("kind"),
        feature_input=kinds,
        reference=str(args.reference),
        samples=[str(d) for d in args.samples],
        feature_dim=int(np.asarray(held[0].feature).shape[0]),
        reference_invalid=[{"name": s.name, "problems": s.problems} for s in reference if not s.valid],
    )
    write_table(table, out)
    print(markdown(table), end="")
    print(f"wrote {out}/table.json and {out}/table.md")
    return 0
