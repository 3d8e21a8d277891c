"""``ostinato generate --family aria`` (the default): continue a MIDI prompt with an Aria-format
checkpoint (torch or MLX).

As upstream ``aria generate`` (seed-systems 1.5), plus ``--metadata composer=chopin genre=classical``
(metadata prefix tokens before ``<S>``) and ``--pedal/--no-pedal`` (the pedal tokenizer; found
from the checkpoint's tokenizer.json or vocabulary size when not given), except that no option
is silently ignored:
``--min-p`` and ``--top-p`` together are an error (min-p 0.035 applies only when neither is
given), ``--device`` with the MLX backend is an error, and every bad input (corrupt or empty
prompt MIDI, a prompt longer than the context, a checkpoint for another vocabulary) raises a
``ValueError`` naming the problem, which the CLI prints.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_TEMP = 0.98  # = pipeline.aria.continue_.DEFAULT_TEMP (not imported: --help stays torch-free)


def add_arguments(p) -> None:
    """Aria's own options; --checkpoint, --temp, --top-p, --seed, --save-dir, --device are common
    and --top-k is shared with notagen (pipeline/commands/generate.py)."""
    p.add_argument("--prompt-midi", type=Path, help="MIDI to continue (default: an empty prompt, [piano, <S>])")
    p.add_argument(
        "--prompt-duration",
        type=float,
        default=15.0,
        help="seconds of the prompt MIDI to keep: notes with onset <= this (default 15)",
    )
    p.add_argument("--variations", type=int, default=1, help="continuations to sample (default 1)")
    p.add_argument("--min-p", type=float, help="min-p truncation (default 0.035 unless --top-p is given)")
    p.add_argument("--length", type=int, default=2048, help="max new tokens (capped by the context; default 2048)")
    p.add_argument(
        "--end", action="store_true", help="force the <D> (ending) token in the last 130 tokens so pieces end"
    )
    p.add_argument("--backend", choices=["torch", "mlx"], default="torch")
    p.add_argument(
        "--metadata",
        nargs="+",
        metavar="KEY=VALUE",
        help="metadata prefixes before <S>, e.g. composer=chopin genre=classical (keys: composer, form, genre)",
    )
    p.add_argument(
        "--pedal",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the checkpoint was trained with pedal tokens (default: from its tokenizer.json or vocabulary size)",
    )


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see orchestration/env.py
    from pipeline.aria.checkpoints import load_model
    from pipeline.aria.continue_ import Sampling, continue_prompt
    from pipeline.aria.decoded import write_midi
    from pipeline.aria.load import resolve_checkpoint, tokenizer_for
    from pipeline.aria.prompt import prompt_tokens, read_prompt

    if args.checkpoint is None:
        raise ValueError(
            "--checkpoint is required: an Aria safetensors file or a directory holding "
            "model.safetensors (e.g. models/aria_finetune)"
        )
    temp = DEFAULT_TEMP if args.temp is None else args.temp
    sampling = Sampling(temp, args.min_p, args.top_p, args.top_k).resolved()  # conflicts first
    if args.variations < 1:
        raise ValueError(f"--variations must be >= 1, got {args.variations}")
    if args.length < 1:
        raise ValueError(f"--length must be >= 1, got {args.length}")
    if args.backend == "mlx" and args.device not in (None, "auto", "cpu"):
        raise ValueError(f"--device {args.device} is a torch device; the mlx backend picks its own device")
    metadata = parse_metadata(args.metadata or [])
    checkpoint = resolve_checkpoint(args.checkpoint)
    tok = tokenizer_for(checkpoint, include_pedal=args.pedal)
    piece = read_prompt(args.prompt_midi) if args.prompt_midi is not None else None
    prompt = with_metadata(prompt_tokens(tok, piece, args.prompt_duration, metadata), metadata)
    device = "cpu"
    if args.backend == "torch":
        from pipeline.train.distributed import resolve_device

        device = resolve_device(args.device or "auto")
    model = load_model(checkpoint, tok, args.backend, device)
    outs = continue_prompt(
        model,
        tok,
        prompt,
        variations=args.variations,
        length=args.length,
        sampling=sampling,
        end=args.end,
        seed=args.seed,
        backend=args.backend,
        progress=True,
    )
    args.save_dir.mkdir(parents=True, exist_ok=True)
    stem = args.prompt_midi.stem if args.prompt_midi is not None else "unconditional"
    for k, ids in enumerate(outs):
        path = args.save_dir / f"{stem}-{k}.mid"
        piece_out = write_midi(tok, ids, path)
        ended = ids[-1] == tok.eos_id
        print(
            f"{path}: {len(ids) - len(prompt)} new tokens, {len(piece_out.notes)} notes in all"
            f"{', ended with <E>' if ended else ''}"
        )
    return 0


def parse_metadata(items: list[str]) -> dict[str, str]:
    """``composer=chopin genre=classical`` -> {kind: name}; unknown keys or names list the valid ones."""
    from pipeline.aria.tokenizer import METADATA_NAMES, _fold_name

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or key not in METADATA_NAMES:
            raise ValueError(
                f"--metadata {item[:80]!r}: expected KEY=VALUE with KEY one of {', '.join(METADATA_NAMES)}"
            )
        names = METADATA_NAMES[key]
        match = [n for n in names if _fold_name(n) == _fold_name(value)]  # as the tokenizer matches
        if not match:
            raise ValueError(f"--metadata {key}={value[:80]!r}: the tokenizer knows {key} {', '.join(names)}")
        out[key] = match[0]
    return out


def with_metadata(prompt: list, metadata: dict[str, str]) -> list:
    """The prompt with its metadata prefixes; the empty prompt ([piano, <S>]) gets them too."""
    have = {t for t in prompt if isinstance(t, tuple) and t[0] == "prefix"}
    extra = [("prefix", k, v) for k, v in metadata.items() if ("prefix", k, v) not in have]
    start = prompt.index("<S>")
    return prompt[:start] + extra + prompt[start:]
