"""Does ``ostinato live`` feel live? The numbers that decide it, on CPU threads (default 2).

    python benchmarks/bench_live.py [--quick] [--threads N] [--checkpoint DIR] [--prompt MID]
                                    [--prompt-seconds S] [--shapes tiny,medium] [--json out.json]

1. **session**: a real-time live session (clock at speed 1, the prompt file played as mock input,
   an in-memory output) with the checkpoint (default ``models/aria_finetune``, skipped when
   absent): time from the end of the input to the first note sent (and to the first note
   sampled: the compute part), tokens left to encode at that moment (the rest was encoded while
   the prompt played), and generated notes/s (per second of generator compute) against the
   notes/s the output needs (the prompt's own rate). Ratio > 1 keeps up.
2. **shapes** (``ModelConfig`` names, random weights): timed forward passes at a context of
   ``--context`` cached tokens: one decode step -> tokens/s -> notes/s (tokens per note of the
   prompt); time to first note = prefill of the tokens left at the stop (8) + 3 decode steps
   (one note); and what it would cost to re-encode the whole prompt at the stop instead.

--quick: a 2 s synthetic prompt, a micro shape, no session: a smoke run whose numbers mean little.

Measured on this 2-core machine while other jobs ran (load average 4-8; torch 2 threads, float32;
2-4 runs each, the spread is the load), prompt = first 15 s of data/ingest/midi/bach_chorales-bwv1.6.mid
(8.4 notes/s, 2.87 tokens/note):
  session models/aria_finetune (d128 x 2, 5 M): first note 389-391 ms after the input ended
      (sampled after 42-168 ms; 14 of 365 tokens left to encode), 33-125 notes/s: ratio 4.0-14.9
  shape tiny   (d256 x 4, 13 M):   4-19 ms/token, 18-88 notes/s: ratio 2.1-10.5 (live)
  shape medium (d1536 x 16, 0.66 B, upstream's size): 0.50-0.65 s/token, 0.54-0.70 notes/s:
      ratio 0.06-0.08 (not live on CPU; first note 2.8-3.5 s of compute, 12.5-13.5 s re-encoding)
No GPU was lent to the session that measured these; docs/live.md has the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.aria.live_io import Clock, RecordingOutput, ScriptedInput, is_note_on, save_midi  # noqa: E402
from pipeline.aria.live_score import Performance  # noqa: E402
from pipeline.aria.model import ModelConfig, build  # noqa: E402
from pipeline.aria.tokenizer import AbsTokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PROMPT = REPO / "data/ingest/midi/bach_chorales-bwv1.6.mid"
LEFT_AT_STOP = 8  # tokens a streaming session typically still has to encode when the player stops


def synthetic_prompt(path: Path, seconds: float, rate: float = 8.0) -> Path:
    """Chords and a melody at ``rate`` notes/s: a stand-in when no prompt MIDI is at hand."""
    import mido

    events, n = [], int(seconds * rate)
    for i in range(n):
        t, pitch = round(i * 1000 / rate), 48 + (i * 7) % 36
        events += [
            (t, mido.Message("note_on", note=pitch, velocity=70)),
            (t + 400, mido.Message("note_off", note=pitch)),
        ]
    return save_midi(path, [events])


def prompt_events(path: Path, seconds: float, clock: Clock) -> list:
    """The prompt file's messages up to ``seconds`` (keys still down are released there)."""
    inp = ScriptedInput.from_file(path, clock)
    limit = round(seconds * 1000)
    return [(min(t, limit), m) for t, m in inp._events if t <= limit or not is_note_on(m)]


def prompt_stats(tok: AbsTokenizer, events: list) -> dict:
    perf = Performance(tok)
    for t, m in events:
        perf.add(t, m)
    tokens = perf.tokens(max(t for t, _ in events))
    notes = sum(is_note_on(m) for _, m in events)
    return {
        "notes": notes,
        "tokens": len(tokens),
        "tokens_per_note": len(tokens) / notes,
        "notes_per_s": perf.note_rate(),
    }


def run_session(checkpoint: Path, events: list, max_seconds: float, seed: int) -> dict:
    from pipeline.aria.checkpoints import load_model
    from pipeline.aria.live import LiveOptions, LiveSession
    from pipeline.aria.load import resolve_checkpoint, tokenizer_for

    path = resolve_checkpoint(checkpoint)
    tok = tokenizer_for(path)
    model = load_model(path, tok)
    clock = Clock()
    inp = ScriptedInput(events, clock, start_ms=clock.now_ms())
    live = LiveSession(model, tok, inp, RecordingOutput(clock), clock, LiveOptions(seed=seed, max_seconds=max_seconds))
    (turn,) = live.run().turns
    return {
        "checkpoint": str(checkpoint),
        "shape": {k: model.config.to_dict()[k] for k in ("d_model", "n_layers", "n_heads")},
        "prompt_tokens": turn.prompt_tokens,
        "left_to_encode_at_stop": turn.encoded_at_stop,
        "first_note_sampled_ms": turn.first_ready_ms - turn.stop_ms,
        "time_to_first_note_ms": turn.time_to_first_note_ms,
        "notes_sent": turn.notes_sent,
        "notes_dropped": turn.notes_dropped,
        "notes_per_s": round(turn.notes_per_s, 1),
        "needed_notes_per_s": round(turn.needed_notes_per_s, 2),
        "ratio": round(turn.ratio, 2),
    }


def time_shape(cfg: ModelConfig, context: int, tokens_per_note: float, needed: float, prompt_tokens: int) -> dict:
    model = build(cfg.replace(max_seq_len=max(cfg.max_seq_len, context + 64))).eval()
    cache = model.new_kv_cache(1, context + 64)
    cache.length = context  # attention cost is that of a full context; the values do not matter
    one = torch.tensor([[5]])

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    with torch.inference_mode():
        timed(lambda: model(one, cache, context, last_only=True))  # warm-up
        steps = [timed(lambda: model(one, cache, context, last_only=True)) for _ in range(5)]
        left = torch.full((1, LEFT_AT_STOP), 5)
        prefill_left = timed(lambda: model(left, cache, context - LEFT_AT_STOP, last_only=True))
        whole = torch.full((1, min(prompt_tokens, context)), 5)
        cache.length = 0
        prefill_all = timed(lambda: model(whole, cache, 0, last_only=True))
    step = statistics.median(steps)
    notes_per_s = 1 / step / tokens_per_note
    return {
        "params_m": round(model.num_parameters() / 1e6, 1),
        "step_ms": round(step * 1000, 1),
        "tokens_per_s": round(1 / step, 1),
        "notes_per_s": round(notes_per_s, 2),
        "needed_notes_per_s": round(needed, 2),
        "ratio": round(notes_per_s / needed, 2),
        "first_note_compute_ms": round((prefill_left + 3 * step) * 1000),
        "first_note_if_reencoded_ms": round((prefill_all + 3 * step) * 1000),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint", type=Path, default=REPO / "models/aria_finetune")
    ap.add_argument("--prompt", type=Path, default=DEFAULT_PROMPT)
    ap.add_argument("--prompt-seconds", type=float, default=15.0)
    ap.add_argument("--max-seconds", type=float, default=10.0, help="continuation length of the session")
    ap.add_argument("--shapes", default="tiny,medium")
    ap.add_argument("--context", type=int, default=1024, help="cached tokens when the shapes are timed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tok, clock = AbsTokenizer(), Clock()
    prompt = args.prompt
    seconds = 2.0 if args.quick else args.prompt_seconds
    if args.quick or not prompt.is_file():
        import tempfile

        prompt = synthetic_prompt(Path(tempfile.mkdtemp()) / "prompt.mid", seconds)
    events = prompt_events(prompt, seconds, clock)
    stats = prompt_stats(tok, events)
    print(
        f"prompt {prompt.name}, first {seconds:g} s: {stats['notes']} notes, "
        f"{stats['notes_per_s']:.1f} notes/s needed, {stats['tokens_per_note']:.2f} tokens/note; "
        f"torch {args.threads} threads"
    )
    out: dict = {"prompt": str(prompt), "seconds": seconds, **stats, "threads": args.threads}
    if not args.quick and args.checkpoint.exists():
        s = run_session(args.checkpoint, events, args.max_seconds, args.seed)
        out["session"] = s
        print(
            f"session {args.checkpoint}: first note {s['time_to_first_note_ms']} ms after the input ended "
            f"(sampled after {s['first_note_sampled_ms']} ms; {s['left_to_encode_at_stop']} of "
            f"{s['prompt_tokens']} tokens left to encode), {s['notes_sent']} notes sent, {s['notes_dropped']} dropped; "
            f"{s['notes_per_s']} notes/s generated vs {s['needed_notes_per_s']} needed: ratio {s['ratio']}"
        )
    shapes = {"micro": ModelConfig(d_model=64, n_heads=2, n_layers=2)} if args.quick else {}
    for name in [] if args.quick else args.shapes.split(","):
        shapes[name] = ModelConfig.from_name(name.strip())
    out["shapes"] = {}
    for name, cfg in shapes.items():
        ctx = 256 if args.quick else args.context
        r = time_shape(cfg, ctx, stats["tokens_per_note"], stats["notes_per_s"], stats["tokens"])
        out["shapes"][name] = r
        print(
            f"shape {name} ({r['params_m']} M params, context {ctx}): {r['step_ms']} ms/token = "
            f"{r['notes_per_s']} notes/s vs {r['needed_notes_per_s']} needed: ratio {r['ratio']}; first note "
            f"{r['first_note_compute_ms']} ms of compute ({r['first_note_if_reencoded_ms']} ms if the prompt "
            f"were re-encoded at the stop)"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
