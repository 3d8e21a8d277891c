"""GnM generation speed: KV-cache decoding vs upstream's recompute-the-prefix loop, same process.

    python benchmarks/bench_gnm.py [--quick] [--events 1200] [--threads N] [--json out.json]

Both paths run the real GnM sampler (temperature 1.1, nucleus 0.99, the beat grammar guard as a
logits processor) through ``pipeline.sample.generate`` on the same seeded weights and seed; EOS
is banned so each run produces exactly ``--events`` events (upstream's max_events is 1,200).
The peer is ``use_cache=False``: every step re-runs the whole prefix, as upstream's
``model.generate`` does. Goal: >= 5x tokens/s at 1,200 events. Prints tokens/s per wall-clock
second and per CPU second (the steadier figure on a shared machine), and the ratio.
--quick: 200 events on a smaller model (a smoke run; the ratio grows with length).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.gnm.generation import GrammarGuard  # noqa: E402
from pipeline.gnm.model import GnmConfig, GnmDecoder  # noqa: E402
from pipeline.gnm.vocab import Vocab  # noqa: E402
from pipeline.sample.generate import generate  # noqa: E402


def vocab() -> Vocab:
    """Upstream's full reachable 251-token vocabulary."""
    return Vocab.build(
        ["Composer_None", "BOS_None", "Bar_None", "EOS_None"]
        + [f"Tempo_{t}" for t in (40, 80, 120, 160)]
        + [f"Beat_{g}" for g in range(48)]
        + [f"Time_Signature_{s}" for s in ("2/4", "3/4", "4/4", "3/8", "6/8")]
    )


def run(model, v: Vocab, events: int, use_cache: bool, seed: int) -> tuple[list[int], float, float]:
    guard = GrammarGuard(v, 1, max_bars=10**6, temperature=1.1)
    w0, c0 = time.perf_counter(), time.process_time()
    out = generate(
        model,
        [[v.composer_id(None)]],
        max_new_tokens=events - 1,
        pad_id=v.pad_id,
        seed=seed,
        temperature=1.1,
        top_p=0.99,
        banned_ids=[v.id("EOS_None")],
        processors=[guard],
        use_cache=use_cache,
    )
    return out[0], time.perf_counter() - w0, time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    events = a.events or (200 if a.quick else 1200)
    d, layers = (64, 2) if a.quick else (128, 4)
    v = vocab()
    torch.manual_seed(0)
    model = GnmDecoder(
        GnmConfig(
            len(v),
            d_model=d,
            n_heads=4,
            n_layers=layers,
            d_ff=4 * d,
            d_word_embed=d,
            adapter_positions=(1,),
            max_seq_len=events + 8,
        )
    ).eval()
    rows = {}
    for name, cache in (("kv_cache", True), ("no_cache (upstream)", False)):
        ids, wall, cpu = run(model, v, events, cache, seed=0)
        n = len(ids)
        rows[name] = {
            "events": n,
            "wall_s": round(wall, 3),
            "tokens_per_s": round(n / wall, 1),
            "tokens_per_cpu_s": round(n / max(cpu, 1e-9), 1),
        }
    # same weights + seed: both paths must sample the same events (logits agree to ~1e-6)
    same = run(model, v, min(events, 64), True, 1)[0] == run(model, v, min(events, 64), False, 1)[0]
    kv, peer = rows["kv_cache"], rows["no_cache (upstream)"]
    ratio = {
        "wall": round(kv["tokens_per_s"] / peer["tokens_per_s"], 2),
        "cpu": round(kv["tokens_per_cpu_s"] / peer["tokens_per_cpu_s"], 2),
    }
    print(f"GnM decoder d{d} x {layers} layers, {events} events, batch 1, torch threads {a.threads}")
    print(f"{'path':22s} {'events':>7s} {'wall s':>8s} {'tok/s':>9s} {'tok/cpu-s':>10s}")
    for name, r in rows.items():
        print(f"{name:22s} {r['events']:7d} {r['wall_s']:8.2f} {r['tokens_per_s']:9.1f} {r['tokens_per_cpu_s']:10.1f}")
    print(
        f"KV cache speed-up ratio: {ratio['wall']}x wall, {ratio['cpu']}x CPU (goal >= 5x at 1,200 events); "
        f"same events both paths: {same}"
    )
    if a.json:
        a.json.write_text(json.dumps({"events": events, "rows": rows, "ratio": ratio}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
