"""The ``ostinato`` console script. Each subcommand lives in ``pipeline/commands/<name>.py``
with ``add_arguments(parser)`` and ``run(args) -> int``; imports stay lazy so ``--help`` is fast."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import sys

# What ``ostinato --help`` says first: what the tool is for, in user terms.
DESCRIPTION = (
    "ostinato: one reproducible DVC + Prefect pipeline for music models (Aria, MIDI-VALLE, "
    "Generality-to-Mastery, NotaGen). 'make repro' builds everything; these commands check "
    "your data and params, generate and embed with trained checkpoints, and serve the "
    "experiment UI."
)
EPILOG = "Run 'ostinato COMMAND --help' for a command's options. Docs: README.md."

COMMANDS = {
    "data": "validate a folder of MIDI before a run (ostinato data check DIR)",
    "params": "check params.yaml or apply a profile from profiles/ (e.g. micro)",
    "generate": "generate music with a trained checkpoint: --family aria (continue a MIDI prompt), gnm, notagen",
    "embed": "print or save embeddings of MIDI files",
    "eval": "one metric table (FMD, note statistics, validity) for a folder of generated MIDI/ABC vs a reference",
    "live": "real-time continuation: listen on a MIDI port or play a file, continue when the player stops",
    "prompt": "cut a matched audio + MIDI prompt pair from a recording (for synthesize)",
    "synthesize": "MIDI + an audio prompt -> audio with a VALL-E checkpoint and a codec",
    "serve": "start the Prefect UI on 127.0.0.1 and serve the repro deployment",
    "demo": "a local generation page on 127.0.0.1: one tab per family, piano roll, audio and downloads",
    "repro": "validate params.yaml, then dvc repro with every stage on one loopback Prefect server (make repro)",
}


def build_parser() -> argparse.ArgumentParser:
    from pipeline import __version__

    parser = argparse.ArgumentParser(prog="ostinato", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"ostinato {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in COMMANDS.items():
        try:
            mod = importlib.import_module(f"pipeline.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"pipeline.commands.{name}":
                continue  # command not built in this checkout
            raise
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    # pyfluidsynth prints its library path when $CI is set: noise on either stream, so drop it
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            import fluidsynth  # noqa: F401
        except ImportError:
            pass
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"ostinato {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
