"""``ostinato generate``: one command for every family's generator, chosen with ``--family``.

``--family aria`` (the default, so ``ostinato generate --checkpoint ...`` works as before)
continues a MIDI prompt; ``--family gnm`` samples composer-conditioned scores; ``--family
notagen`` samples period-composer-instrumentation ABC scores. Options of all families are defined
here (--checkpoint, --temp/--temperature, --top-p, --seed, --save-dir, --device), and so are the
few that several families read (``SHARED``: --composer, -n, --top-k); each family adds its own in
``pipeline/commands/generate_<family>.py`` (its ``add_arguments(group)`` and ``run(args)``,
imports kept lazy so ``--help`` stays torch-free). An option of another family is an error, never
silently ignored. To add a family, add one line to ``FAMILIES``.
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


# options several families read: dest -> (flags, families, argparse keywords)
SHARED = {
    "composer": (
        ("--composer",),
        ("gnm", "notagen"),
        {
            "help": "gnm: composer to condition on (e.g. bach; 'none' = Composer_None); "
            "notagen: the prompt's composer (e.g. 'Bach, Johann Sebastian')"
        },
    ),
    "pieces": (
        ("-n", "--pieces"),
        ("gnm", "notagen"),
        {"type": int, "default": None, "help": "pieces to sample (gnm: per composer, default 4; notagen default 1)"},
    ),
    "top_k": (
        ("--top-k",),
        ("aria", "notagen"),
        {
            "type": int,
            "help": "keep the k most likely tokens (aria: after min-p/top-p, default off; notagen default 9)",
        },
    ),
}


# upstream command lines as typed (aria generate, GnM inference_score.py) -> our option
UPSTREAM_NAMES = {
    "--checkpoint_path": "--checkpoint",
    "--save_dir": "--save-dir",
    "--output_dir": "--save-dir",
    "--top_p": "--top-p",
    "--prompt_midi_path": "--prompt-midi",
    "--prompt_duration": "--prompt-duration",
    "--min_p": "--min-p",
    "--all_composer": "--all-composers",
}


def _truth(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return text.lower() in ("true", "1")


def add_upstream_names(p: argparse.ArgumentParser, names: dict[str, str]) -> None:
    """Each upstream spelling as a hidden alias of our option, listed once under "upstream names"."""
    for theirs, ours in names.items():
        action = p._option_string_actions[ours]
        kw = {"dest": action.dest, "default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
        if isinstance(action, argparse._StoreTrueAction):  # upstream writes --all_composer=True
            p.add_argument(theirs, nargs="?", const=True, type=_truth, **kw)
        else:
            p.add_argument(theirs, type=action.type, metavar=action.metavar, **kw)
    pairs: dict[str, list[str]] = {}
    for theirs, ours in names.items():
        pairs.setdefault(ours, []).append(theirs)
    listing = "; ".join(f"{', '.join(t)} = {o}" for o, t in pairs.items())
    p.add_argument_group("upstream names", f"accepted as aliases: {listing}")


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
        "(default models/gnm_finetune) or an upstream .pt with --vocab; notagen: a model directory "
        "or .safetensors (default models/abc_finetune; a DPO model is models/abc_dpo/iter_N) "
        "or an upstream .pth",
    )
    p.add_argument(
        "--temp",
        "--temperature",
        dest="temp",
        type=float,
        help="sampling temperature (aria default 0.98, gnm 1.1, notagen 1.2)",
    )
    p.add_argument(
        "--top-p", type=float, help="nucleus truncation (aria: conflicts with --min-p; gnm default 0.99, notagen 0.9)"
    )
    p.add_argument("--seed", type=int, help="random seed (default: nondeterministic)")
    p.add_argument(
        "--save-dir",
        type=Path,
        default=Path("generations"),
        help="folder for the output files (default: generations/ in the current folder; created if missing)",
    )
    p.add_argument("--device", default=None, help="torch device: auto (default), cpu, cuda, cuda:N, mps")
    shared = p.add_argument_group("options of several families")
    for dest, (flags, _, kw) in SHARED.items():
        shared.add_argument(*flags, dest=dest, **kw)
    for family in FAMILIES:
        group = p.add_argument_group(f"--family {family}")
        before = {a.dest for a in p._actions}
        _module(family).add_arguments(group)
        _OWNED[family] = {a.dest: a.default for a in p._actions if a.dest not in before}
    add_upstream_names(p, UPSTREAM_NAMES)


def check_save_dir(save_dir: Path) -> None:
    """--save-dir must be (or become) a folder: a file there, or above it, is named before any work."""
    for d in (save_dir, *save_dir.parents):
        if d.exists():
            if not d.is_dir():
                what = "is a file" if d == save_dir else f"cannot be created: {d} is a file"
                raise ValueError(f"--save-dir {save_dir} {what}, not a folder")
            return


def run(args: argparse.Namespace) -> int:
    foreign = [
        f"--{dest.replace('_', '-')} (a --family {fam} option)"
        for fam, owned in _OWNED.items()
        if fam != args.family
        for dest, default in owned.items()
        if getattr(args, dest, default) != default
    ]
    foreign += [
        f"{flags[-1]} (a --family {'/'.join(fams)} option)"
        for dest, (flags, fams, kw) in SHARED.items()
        if args.family not in fams and getattr(args, dest, None) != kw.get("default")
    ]
    if foreign:
        raise ValueError(f"--family {args.family} does not take {', '.join(foreign)}")
    check_save_dir(args.save_dir)
    return _module(args.family).run(args)
