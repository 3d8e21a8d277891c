"""``ostinato eval SAMPLES_DIR --reference DIR``: one metric table for any folder of generated music.

Rows: the samples; the reference's own halves (one half scored against the other: the
real-vs-real ceiling); and two sanity rows made from that scored half (shuffled onsets, random
pitch with the real rhythm; :mod:`pipeline.eval.sanity`). Every row is scored against the same
held half of the reference. Cells: FMD and FMD-Inf on CLaMP 2 features (``--scorer``: our
``models/clamp_train`` by default, or a released CLaMP 2 ``.pth``), mgeval-style overlapping
areas of note statistics, and validity; each with a 95% bootstrap interval. Writes
``table.json`` and ``table.md`` to ``--out`` (refused when they exist, unless ``--force``).
Each folder becomes an in-memory samples contract (eval_samples.py) scored by the function the
``eval_generators`` stage calls (pipeline/eval/generator_table.py). Docs: docs/evaluation.md.
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
    import sys
    import tempfile

    from pipeline.clamp import load, mtf
    from pipeline.commands.eval_samples import folder_contract
    from pipeline.eval.frechet import ESTIMATORS
    from pipeline.eval.generator_table import Scorer, generator_table
    from pipeline.eval.metric_table import TableConfig
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
    cfg = TableConfig(
        n_boot=args.bootstrap, n_boot_inf=max(10, args.bootstrap // 10), estimator=args.estimator, seed=args.seed
    )
    with tempfile.TemporaryDirectory(prefix="ostinato-eval-") as tmp:
        work = Path(tmp)
        # family "samples:" and the folder's name as label: the row reads "samples: NAME"
        contracts = [folder_contract(d, "samples:", n, work, _progress(show, n)) for n, d in zip(names, args.samples)]
        reference = folder_contract(args.reference, "reference", "", work, _progress(show, "reference"))
        table = generator_table(
            contracts,
            [reference],
            Scorer(scorer.music_features, mtf),
            cfg,
            progress=(lambda row: print(f"scoring {row}", file=sys.stderr)) if show else None,
            reference_source=str(args.reference),
        )
    notes = {f"samples: {n}": str(d) for n, d in zip(names, args.samples)}
    for r in table["rows"]:
        r.pop("media", None)  # ABC renderings lived in the temporary folder; the command has no audio
        r["note"] = notes.get(r["row"], r["note"])
    table.update(
        scorer=str(scorer.meta.get("path")),
        scorer_kind=scorer.meta.get("kind"),
        reference=str(args.reference),
        samples=[str(d) for d in args.samples],
    )
    write_table(table, out)
    print(markdown(table), end="")
    print(f"wrote {out}/table.json and {out}/table.md")
    return 0
