"""VALL-E AR decoding: our KV cache vs upstream's full recomputation per frame, same process.

    python benchmarks/bench_valle.py [--quick] [--frames 750] [--threads N] [--json out.json]

Both paths sample the same frames (same generator; the test suite checks they are equal) from
the same random model: a 3 s prompt (150 frames) and 200 MIDI rows, EOS banned so exactly
``--frames`` frames are generated (750 = 15 s at 50 frames/s). Goal: ratio >= 10x at 750 frames.
The model is 4 layers x 256 wide (the released one is 12 x 1024; the ratio grows with depth and
length since the uncached step re-runs the whole sequence). Wall time and this process's CPU time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.valle.infer import ar_decode  # noqa: E402
from pipeline.valle.model import ValleConfig, build  # noqa: E402


def run(model, midi, prompt0, frames: int, cache: bool) -> tuple[float, float, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    w, c = time.perf_counter(), time.process_time()
    out = ar_decode(
        model,
        midi,
        prompt0,
        temperature=1.0,
        top_k=50,
        max_frames=frames,
        min_frames=frames,
        use_cache=cache,
        generator=g,
    )
    return time.perf_counter() - w, time.process_time() - c, out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny model, 60 frames (smoke run)")
    ap.add_argument("--frames", type=int, default=750)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    frames = 60 if args.quick else args.frames
    cfg = ValleConfig(d_model=64, nhead=4, n_layers=2) if args.quick else ValleConfig(d_model=256, nhead=4, n_layers=4)
    torch.manual_seed(0)
    model = build(cfg).eval()
    rows = 30 if args.quick else 200
    midi = torch.randint(4, 20, (1, rows, 6))
    midi[0, 0], midi[0, -1] = 1, 2
    prompt0 = torch.randint(0, cfg.audio_bins, (1, 50 if args.quick else 150))
    run(model, midi, prompt0, 5, True)  # warm-up
    cw, cc, a = run(model, midi, prompt0, frames, True)
    nw, nc, b = run(model, midi, prompt0, frames, False)
    res = {
        "frames": frames,
        "config": cfg.to_dict(),
        "same_frames": bool(torch.equal(a, b)),
        "kv_cache_s": round(cw, 3),
        "no_cache_s": round(nw, 3),
        "kv_cache_frames_per_s": round(frames / cw, 1),
        "no_cache_frames_per_s": round(frames / nw, 1),
        "ratio_wall": round(nw / cw, 2),
        "ratio_cpu": round(nc / max(cc, 1e-9), 2),
    }
    print(f"VALL-E AR decode, {frames} frames, {cfg.n_layers} x {cfg.d_model}, {args.threads} thread(s)")
    print(f"  KV cache : {cw:8.2f} s  {frames / cw:8.1f} frames/s")
    print(f"  no cache : {nw:8.2f} s  {frames / nw:8.1f} frames/s  (upstream: full recompute per frame)")
    print(
        f"  ratio    : {res['ratio_wall']}x wall, {res['ratio_cpu']}x CPU  (goal >= 10x at 750 frames)"
        f"  same frames: {res['same_frames']}"
    )
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
