"""``ostinato generate``: one command for every family's generator, chosen with ``--family``.

``--family aria`` (the default, so ``ostinato generate --checkpoint ...`` works as before)
continues a MIDI prompt; ``--family gnm`` samples composer-conditioned scores. Options shared by
all families are defined here (--checkpoint, --temp/--temperature, --top-p, --seed, --save-dir,
--device); each family adds its own in ``pipeline/commands/generate_<family>.py`` (its
``add_arguments(group)`` and ``run(args)``, imports kept lazy so ``--help`` stays torch-free).
An option of another family is an error, never silently ignored. To add a family, add one line
to ``FAMILIES``.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

FAMILIES = {
    "aria": "pipeline.commands.generate_aria",
    "gnm": "pipeline.commands.generate_gnm",
    "notagen": "pipeline.commands.generate_notagen",
}
_OWNED: dict[str, dict[str, object]] = {}  # family -> {dest: default} of its own options


def _module(family: str):
    return importlib.import_module(FAMILIES[family])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--family",
        choices=list(FAMILIES),
        default="aria",
        help="which generator (default aria); each family's options are listed below",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="aria: safetensors file or its directory (required); gnm: a model directory "
        "(default models/gnm_finetune) or an upstream .pt with --vocab",
    )
    p.add_argument(
        "--temp", "--temperature", dest="temp", type=float, help="sampling temperature (aria default 0.98, gnm 1.1)"
    )
    p.add_argument("--top-p", type=float, help="nucleus truncation (aria: conflicts with --min-p; gnm default 0.99)")
    p.add_argument("--seed", type=int, help="random seed (default: nondeterministic)")
    p.add_argument("--save-dir", type=Path, default=Path("generations"), help="where output files go")
    p.add_argument("--device", default=None, help="torch device: auto (default), cpu, cuda, cuda:N, mps")
    for family in FAMILIES:
        group = p.add_argument_group(f"--family {family}")
        before = {a.dest for a in p._actions}
        _module(family).add_arguments(group)
        _OWNED[family] = {a.dest: a.default for a in p._actions if a.dest not in before}


def run(args: argparse.Namespace) -> int:
    foreign = [
        f"--{dest.replace('_', '-')} (a --family {fam} option)"
        for fam, owned in _OWNED.items()
        if fam != args.family
        for dest, default in owned.items()
        if getattr(args, dest, default) != default and dest not in getattr(_module(args.family), "SHARED", ())
    ]  # options a family reads too
    if foreign:
        raise ValueError(f"--family {args.family} does not take {', '.join(foreign)}")
    return _module(args.family).run(args)
