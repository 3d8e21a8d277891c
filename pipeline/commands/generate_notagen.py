"""``ostinato generate --family notagen``: pieces from a fine-tuned NotaGen checkpoint.

``--period --composer --instrumentation`` is the prompt (upstream's three ``%`` lines); it must
be one of the triples the model was fine-tuned on (``prompts.json`` beside the checkpoint, or
upstream's ``prompts.txt`` via ``--prompts``), else a named error lists the nearest valid ones.
``--no-prompt`` samples without one (a model fine-tuned on one unlabeled set, as upstream's
Schubert demo). Sampling is upstream's: top-k 9 -> top-p 0.9 -> temperature 1.2. Writes, per
piece, ``<save-dir>/<period>_<composer>_<instrumentation>_<k>`` (``unconditional_<k>`` without a
prompt) ``.abc`` (as generated), ``.interleaved.abc`` (rests restored), ``.musicxml``, ``.mid``
and ``.flac`` (FluidSynth; ``--no-audio`` skips it). A piece that stops before its end, or whose
ABC does not convert, keeps its ``.abc`` and says which files were skipped and why; when no
piece got past ABC the command fails (exit 2). The checkpoint is ours (``models/abc_finetune``
under the project folder, the default; a DPO model is ``models/abc_dpo/iter_N``) or an upstream
``.pth`` (NotaGen small/medium/large/X), loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

DEFAULT_CHECKPOINT = Path("models/abc_finetune")
MAX_PROMPT_CHARS = 200  # a prompt line longer than this is a mistake, not a style name
SHOWN_TRIPLES = 12
OUTPUTS = {"abc": ".abc", "interleaved": ".interleaved.abc", "musicxml": ".musicxml", "midi": ".mid", "audio": ".flac"}


def add_arguments(p) -> None:
    """NotaGen's own options; --composer, -n and --top-k are shared (pipeline/commands/generate.py)."""
    p.add_argument("--period", help="e.g. Baroque (with --composer and --instrumentation)")
    p.add_argument("--instrumentation", help="e.g. Keyboard, Chorus, 'String quartet'")
    p.add_argument("--no-prompt", action="store_true", help="sample without the period/composer/instrumentation lines")
    p.add_argument("--prompts", type=Path, help="valid triples (prompts.json, or upstream prompts.txt)")
    p.add_argument("--max-chars", type=int, default=None, help="characters per piece (default 102400)")
    p.add_argument("--max-seconds", type=float, default=None, help="seconds per piece (default 1200)")
    p.add_argument("--no-audio", action="store_true", help="skip the FluidSynth FLAC")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "x"


def _listing(valid: list[tuple[str, str, str]]) -> str:
    shown = "; ".join(" / ".join(t) for t in valid[:SHOWN_TRIPLES])
    return shown + (f"; ... (+{len(valid) - SHOWN_TRIPLES} more)" if len(valid) > SHOWN_TRIPLES else "")


def resolve_prompt(args, checkpoint: Path) -> tuple[str, str, str] | None:
    """The checked triple (None with --no-prompt); every problem named with the valid triples."""
    from pipeline.notagen.prompts import check_prompt, find_prompts, read_prompts

    triple = (args.period, args.composer, args.instrumentation)
    prompts = args.prompts or find_prompts(checkpoint)
    try:
        valid = read_prompts(prompts) if prompts is not None else []
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{prompts} is not a prompts file ({type(e).__name__}: {e})") from None
    if args.no_prompt:
        if any(triple):
            raise ValueError("--no-prompt conflicts with --period/--composer/--instrumentation")
        return None
    if not all(triple):
        given = ", ".join(f"--{k}" for k, v in zip(("period", "composer", "instrumentation"), triple) if not v)
        hint = f"; valid triples ({prompts}): {_listing(valid)}" if valid else "; or sample without one: --no-prompt"
        raise ValueError(f"--family notagen needs --period, --composer and --instrumentation (missing {given}){hint}")
    for flag, value in zip(("--period", "--composer", "--instrumentation"), triple):
        if len(value) > MAX_PROMPT_CHARS:
            raise ValueError(
                f"{flag} is {len(value)} characters long (at most {MAX_PROMPT_CHARS}): "
                f"{value[:40]!r}...; valid triples: {_listing(valid) or 'not listed beside the checkpoint'}"
            )
    if prompts is None:
        print(f"no prompts.json / prompts.txt beside {checkpoint}: the prompt is not checked")
        return triple
    return check_prompt(triple, valid)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from pipeline.commands.defaults import default_checkpoint
    from pipeline.notagen.checkpoint import load, resolve
    from pipeline.notagen.generation import generate
    from pipeline.notagen.render import ScoreRenderError, write_piece
    from pipeline.train.distributed import resolve_device

    n = 1 if args.pieces is None else args.pieces
    if n < 1:
        raise ValueError(f"-n must be >= 1, got {n}")
    checkpoint = default_checkpoint(args.checkpoint, DEFAULT_CHECKPOINT, "notagen")
    resolve(checkpoint)  # a DPO output folder, a missing file: named before the prompt is checked
    triple = resolve_prompt(args, checkpoint)
    model = load(checkpoint, device=resolve_device(args.device or "auto"))
    args.save_dir.mkdir(parents=True, exist_ok=True)
    abc_only = []
    for k in range(n):
        g = generate(
            model,
            [f"%{x}" for x in triple] if triple else [],
            top_k=9 if args.top_k is None else args.top_k,
            top_p=0.9 if args.top_p is None else args.top_p,
            temperature=1.2 if args.temp is None else args.temp,
            seed=(args.seed + k) if args.seed is not None else int.from_bytes(os.urandom(4), "little"),
            max_chars=args.max_chars or 102400,
            max_seconds=args.max_seconds or 1200.0,
        )
        name = ("_".join(_slug(x) for x in triple) if triple else "unconditional") + f"_{k}"
        try:
            files = write_piece(args.save_dir, name, g.text, g.interleaved, audio=not args.no_audio)
            why = None
        except ScoreRenderError as e:  # what was written before the failed step stays
            files = {k: f"{name}{ext}" for k, ext in OUTPUTS.items() if (args.save_dir / f"{name}{ext}").is_file()}
            why = f"the ABC did not convert: {e}"
        if g.interleaved is None:
            why = (
                f"rests not restored: {g.restore_error}"
                if g.stop == "eos"
                else f"the piece stopped at {g.stop} before its end"
            )
        note = ""
        if why:
            wanted = [k for k in OUTPUTS if k not in files and not (k == "audio" and args.no_audio)]
            skipped = [f"{name}{OUTPUTS[k]}" for k in wanted]
            note = f" (skipped {', '.join(skipped)}: {why})"
            if set(files) == {"abc"}:
                abc_only.append(why)
        print(
            f"{args.save_dir / name}: {g.patches} patches, {g.chars} chars, stop {g.stop}, "
            f"{g.seconds:.1f} s -> {', '.join(sorted(files))}{note}"
        )
    if len(abc_only) == n:
        raise RuntimeError(
            f"no piece got past ABC ({n} of {n} kept only their .abc in {args.save_dir}; first reason: "
            f"{abc_only[0]}); raise --max-chars/--max-seconds or check the checkpoint"
        )
    return 0
