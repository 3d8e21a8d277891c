"""``ostinato live``: real-time continuation with an Aria checkpoint (see docs/live.md).

Listens on a MIDI input port (``--midi-in``) or plays a MIDI file as mock input in real time
(``--midi-path``); when the player stops, the model continues on ``--midi-out`` and/or into
``--save-path`` (the player on track 0, the model on track 1); a note from the player hands
back. Upstream's demo flags, spelled with dashes: ``--midi-through``, ``--temp``, ``--min-p``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_CHECKPOINT = Path("models/aria_finetune")
DEFAULT_TEMP = 0.95  # upstream demo's default (pipeline.aria.continue_ is not imported: --help stays fast)


def add_arguments(p) -> None:
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help="Aria safetensors file or its directory, ours or released (default models/aria_finetune)",
    )
    src = p.add_argument_group("input (one of)")
    src.add_argument("--midi-in", help="MIDI input port to listen on")
    src.add_argument("--midi-path", type=Path, help="MIDI file played in real time as mock input")
    dst = p.add_argument_group("output (one or both)")
    dst.add_argument("--midi-out", help="MIDI output port for the continuation")
    dst.add_argument("--save-path", type=Path, help="write the session as MIDI (track 0 player, track 1 model)")
    p.add_argument("--midi-through", help="MIDI output port that echoes the input (hear the prompt file)")
    p.add_argument("--list-ports", action="store_true", help="print the MIDI ports and exit")
    p.add_argument("--temp", type=float, default=DEFAULT_TEMP, help=f"sampling temperature (default {DEFAULT_TEMP})")
    p.add_argument("--min-p", type=float, help="min-p truncation (default 0.035 unless --top-p is given)")
    p.add_argument("--top-p", type=float, help="nucleus truncation (conflicts with --min-p)")
    p.add_argument("--top-k", type=int, help="keep the k most likely tokens")
    p.add_argument("--seed", type=int, help="random seed (default: nondeterministic)")
    p.add_argument(
        "--silence", type=float, default=2.0, help="seconds with no key down that hand over to the model (default 2)"
    )
    p.add_argument("--control-cc", type=int, help="a control change (value >= 64) that hands over at once")
    p.add_argument("--max-seconds", type=float, default=30.0, help="longest continuation per turn (default 30)")
    p.add_argument("--late-ms", type=int, default=100, help="drop a note that would sound later than this (100)")
    p.add_argument("--backend", choices=["torch", "mlx"], default="torch")
    p.add_argument("--device", default=None, help="torch device: auto (default), cpu, cuda, cuda:N, mps")


def check(args: argparse.Namespace) -> None:
    if (args.midi_in is None) == (args.midi_path is None):
        raise ValueError("give one input: --midi-in PORT or --midi-path FILE")
    if args.midi_out is None and args.save_path is None:
        raise ValueError("give an output: --midi-out PORT and/or --save-path FILE")
    if args.silence <= 0 or args.max_seconds <= 0 or args.late_ms < 0:
        raise ValueError("--silence and --max-seconds must be > 0 and --late-ms >= 0")
    if args.control_cc is not None and not 0 <= args.control_cc <= 127:
        raise ValueError(f"--control-cc must be a controller number 0..127, got {args.control_cc}")
    if args.backend == "mlx" and args.device not in (None, "auto", "cpu"):
        raise ValueError(f"--device {args.device} is a torch device; the mlx backend picks its own device")


def list_ports() -> int:
    from pipeline.aria.live_io import port_names

    for kind in ("input", "output"):
        print(f"{kind}s: " + (", ".join(port_names(kind)) or "none"))
    return 0


def summary(turn, origin_ms: int) -> str:
    """One line per turn; times from ``origin_ms`` (the player's first message)."""
    ttfn = turn.time_to_first_note_ms
    return (
        f"turn at {(turn.stop_ms - origin_ms) / 1000:.1f} s: "
        f"first note {'-' if ttfn is None else f'{ttfn} ms'} after the stop, "
        f"{turn.notes_sent} notes sent ({turn.notes_dropped} dropped late), "
        f"{turn.notes_per_s:.1f} notes/s generated vs {turn.needed_notes_per_s:.1f} needed "
        f"(ratio {turn.ratio:.1f}){', handed back' if turn.handed_back else ''}"
    )


def load(args: argparse.Namespace):
    """(model in the generate protocol, its tokenizer) for --checkpoint on --backend/--device."""
    from pipeline.aria.checkpoints import load_model
    from pipeline.aria.load import resolve_checkpoint, tokenizer_for

    checkpoint = resolve_checkpoint(args.checkpoint)
    tok = tokenizer_for(checkpoint)
    device = "cpu"
    if args.backend == "torch":
        from pipeline.train.distributed import resolve_device

        device = resolve_device(args.device or "auto")
    model = load_model(checkpoint, tok, args.backend, device)
    if args.backend == "mlx":
        from pipeline.aria import mlx_backend

        model = mlx_backend.port().TorchAdapter(model)
    return model, tok


def run(args: argparse.Namespace) -> int:
    if args.list_ports:
        return list_ports()
    check(args)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see orchestration/env.py
    from pipeline.aria import live_io
    from pipeline.aria.continue_ import Sampling
    from pipeline.aria.live import LiveOptions, LiveSession

    sampling = Sampling(args.temp, args.min_p, args.top_p, args.top_k).resolved()  # conflicts first
    clock, opened = live_io.Clock(), []
    try:  # ports and the prompt file first: a wrong name fails before the model loads
        if args.midi_path is not None:
            inp = live_io.ScriptedInput.from_file(args.midi_path, clock)
        else:
            inp = live_io.PortInput(args.midi_in, clock)
        opened.append(inp)
        out = live_io.PortOutput(args.midi_out) if args.midi_out else live_io.RecordingOutput(clock)
        opened.append(out)
        through = live_io.PortOutput(args.midi_through) if args.midi_through else None
        opened += [through] if through else []
        model, tok = load(args)
        if isinstance(inp, live_io.ScriptedInput):
            inp.start_ms = clock.now_ms()  # the file starts playing now
        else:
            inp.poll()  # what the port got while the model loaded is not part of the performance
        opts = LiveOptions(
            sampling=sampling,
            seed=args.seed,
            silence_ms=round(args.silence * 1000),
            control_cc=args.control_cc,
            max_seconds=args.max_seconds,
            late_ms=args.late_ms,
        )
        session = LiveSession(model, tok, inp, out, clock, opts, through=through)
        print(f"live: listening on {args.midi_in or args.midi_path} (Ctrl-C to stop)")
        try:
            session.run()
        except KeyboardInterrupt:
            print("live: stopped")
        finally:  # an error mid-session still leaves the numbers and the file of what was played
            for turn in session.result.turns:
                print(summary(turn, session.result.player[0][0]))
            if args.save_path is not None and session.result.player:
                live_io.save_midi(args.save_path, [session.result.player, session.result.sent])
                print(
                    f"{args.save_path}: {len(session.result.player)} input + {len(session.result.sent)} output messages"
                )
    finally:
        for port in opened:
            if isinstance(port, live_io.PortOutput):
                live_io.silence(port)
            port.close()
    return 0
