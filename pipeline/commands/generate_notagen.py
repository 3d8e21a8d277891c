"""``ostinato generate --family notagen``: pieces from a fine-tuned NotaGen checkpoint.

``--period --composer --instrumentation`` is the prompt (upstream's three ``%`` lines); it must
be one of the triples the model was fine-tuned on (``prompts.json`` beside the checkpoint, or
upstream's ``prompts.txt`` via ``--prompts``), else a named error lists the nearest valid ones.
Sampling is upstream's: top-k 9 -> top-p 0.9 -> temperature 1.2. Writes, per piece,
``<save-dir>/<period>_<composer>_<instrumentation>_<k>`` ``.abc`` (as generated),
``.interleaved.abc`` (rests restored), ``.musicxml``, ``.mid`` and ``.flac`` (FluidSynth;
``--no-audio`` skips it). The checkpoint is ours (``models/abc_finetune``, the default) or an
upstream ``.pth`` (NotaGen small/medium/large/X), loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

DEFAULT_CHECKPOINT = Path("models/abc_finetune")
SHARED = ("composer", "top_k", "pieces")  # options another family defines first; this one reads them too


def _add(p, flag: str, *args, **kw) -> None:
    if flag not in p._option_string_actions:  # shared with another family's group
        p.add_argument(*args, **kw)


def add_arguments(p) -> None:
    p.add_argument("--period", help="notagen: e.g. Baroque (with --composer and --instrumentation)")
    _add(p, "--composer", "--composer", help="composer prompt (notagen: e.g. 'Bach, Johann Sebastian')")
    p.add_argument("--instrumentation", help="notagen: e.g. Keyboard, Chorus, 'String quartet'")
    p.add_argument("--prompts", type=Path, help="notagen: valid triples (prompts.json, or upstream prompts.txt)")
    _add(p, "-n", "-n", "--pieces", type=int, default=None, help="pieces to sample (notagen default 1)")
    _add(p, "--top-k", "--top-k", type=int, help="keep the k most likely tokens (notagen default 9)")
    p.add_argument("--max-chars", type=int, default=None, help="notagen: characters per piece (default 102400)")
    p.add_argument("--max-seconds", type=float, default=None, help="notagen: seconds per piece (default 1200)")
    p.add_argument("--no-audio", action="store_true", help="notagen: skip the FluidSynth FLAC")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "x"


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from pipeline.notagen.checkpoint import load
    from pipeline.notagen.generation import generate
    from pipeline.notagen.prompts import check_prompt, find_prompts, read_prompts
    from pipeline.notagen.render import ScoreRenderError, write_piece
    from pipeline.train.distributed import resolve_device

    triple = (args.period, args.composer, args.instrumentation)
    if not all(triple):
        raise ValueError("--family notagen needs --period, --composer and --instrumentation")
    n = 1 if args.pieces is None else args.pieces
    if n < 1:
        raise ValueError(f"-n must be >= 1, got {n}")
    checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
    prompts = args.prompts or find_prompts(checkpoint)
    if prompts is not None:
        triple = check_prompt(triple, read_prompts(prompts))
    else:
        print(f"no prompts.json / prompts.txt beside {checkpoint}: the prompt is not checked")
    model = load(checkpoint, device=resolve_device(args.device or "auto"))
    args.save_dir.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        g = generate(
            model,
            [f"%{x}" for x in triple],
            top_k=9 if args.top_k is None else args.top_k,
            top_p=0.9 if args.top_p is None else args.top_p,
            temperature=1.2 if args.temp is None else args.temp,
            seed=(args.seed + k) if args.seed is not None else int.from_bytes(os.urandom(4), "little"),
            max_chars=args.max_chars or 102400,
            max_seconds=args.max_seconds or 1200.0,
        )
        name = "_".join(_slug(x) for x in triple) + f"_{k}"
        try:
            files = write_piece(args.save_dir, name, g.text, g.interleaved, audio=not args.no_audio)
            note = ""
        except ScoreRenderError as e:
            files, note = {"abc": f"{name}.abc"}, f" (not rendered: {e})"
        if g.interleaved is None and g.stop == "eos":
            note += f" (rests not restored: {g.restore_error})"
        print(
            f"{args.save_dir / name}: {g.patches} patches, {g.chars} chars, stop {g.stop}, "
            f"{g.seconds:.1f} s -> {', '.join(sorted(files))}{note}"
        )
    return 0
