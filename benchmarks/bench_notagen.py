"""NotaGen speed, side by side in one process; prints a table and ratios.

    python benchmarks/bench_notagen.py [--quick] [--threads N] [--context 512] [--patches 16]
        [--shape tiny|small] [--json out.json]

1. generation characters/s at a context of ``--context`` patches (default 512): our patch-level KV
   cache + char decoder cached within a patch, vs recomputing both as upstream does (the patch
   decoder over the whole context for every patch, the char decoder over the patch prefix for
   every character). Same seed, same weights: both must produce the same text. Goal >= 5x.
2. pieces per CPU-second: ``generate_batch`` over 8 seeds vs ``generate`` once per seed (same texts).
3. one DPO-Positive step (policy + frozen reference, chosen + rejected, one pair) vs one plain
   fine-tune step (one piece) of the same model and piece length. Upstream expectation ~2-3x.

--quick: context 64, 4 patches, one timing round: a smoke run whose numbers mean little.
Wall-clock and CPU seconds are both reported; on a shared machine the CPU figure is steadier.
torch threads default to 1.
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

from pipeline.notagen.batch_generation import generate_batch  # noqa: E402
from pipeline.notagen.generation import generate  # noqa: E402
from pipeline.notagen.model import NotaGenConfig, NotaGenModel, logprob  # noqa: E402
from pipeline.notagen.patchilizer import patchify  # noqa: E402
from pipeline.train.dpo import DPOObjective  # noqa: E402

HEAD = ["%Classical", "%Mozart, Wolfgang Amadeus", "%Keyboard", "L:1/8", "M:4/4", "K:G", "V:1", "V:2"]
BAR = "[V:1]gabc' d'c'ba|[V:2]G,B,DG B,DG,B,|"


def prompt_of(context: int) -> list[str]:
    """Prompt lines whose patches fill ``context - 8`` of the context (room for the new patches)."""
    lines = list(HEAD)
    while patchify("\n".join(lines + [BAR])).shape[0] - 1 < context - 8:
        lines.append(BAR)
    return lines


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def bench_generation(model, context: int, patches: int, rounds: int) -> dict:
    prompt = prompt_of(context)
    res = {}
    for name, cache in (("cached", True), ("recompute", False)):
        best = None
        for _ in range(rounds):
            g, wall, cpu = timed(
                lambda: generate(model, prompt, seed=0, max_patches=patches, use_cache=cache, restore=False)  # noqa: B023
            )
            if best is None or wall < best[1]:
                best = (g, wall, cpu)
        g, wall, cpu = best
        res[name] = {
            "chars": g.chars,
            "patches": g.patches,
            "wall_s": wall,
            "cpu_s": cpu,
            "chars_per_s": g.chars / wall,
            "chars_per_cpu_s": g.chars / max(cpu, 1e-9),
            "text": g.text,
        }
    if res["cached"]["text"] != res["recompute"]["text"]:
        raise AssertionError("cached and recomputed generation differ")
    for r in res.values():
        r.pop("text")
    res["ratio_wall"] = res["cached"]["chars_per_s"] / res["recompute"]["chars_per_s"]
    res["ratio_cpu"] = res["cached"]["chars_per_cpu_s"] / res["recompute"]["chars_per_cpu_s"]
    res["context_patches"] = patchify("\n".join(prompt)).shape[0] - 1
    return res


def bench_batch(model, n: int, patches: int) -> dict:
    prompt = HEAD + [BAR]
    seeds = list(range(n))
    batch, wb, cb = timed(lambda: generate_batch(model, prompt, seeds=seeds, max_patches=patches, restore=False))
    one, wo, co = timed(lambda: [generate(model, prompt, seed=s, max_patches=patches, restore=False) for s in seeds])
    if [g.text for g in batch] != [g.text for g in one]:
        raise AssertionError("batched and one-by-one generation differ")
    return {
        "pieces": n,
        "patches": patches,
        "batch_cpu_s": cb,
        "one_by_one_cpu_s": co,
        "ratio_cpu": co / cb,
        "ratio_wall": wo / wb,
    }


def bench_steps(cfg: NotaGenConfig, piece_patches: int, rounds: int) -> dict:
    torch.manual_seed(0)
    policy = NotaGenModel(cfg).train()
    reference = NotaGenModel(cfg)
    reference.load_state_dict(policy.state_dict())
    lines = list(HEAD)
    while patchify("\n".join(lines + [BAR])).shape[0] <= piece_patches:
        lines.append(BAR)
    chosen = patchify("\n".join(lines))
    rejected = patchify("\n".join(lines).replace("gabc'", "fedc"))
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-6)
    dpo = DPOObjective(reference, logprob, beta=0.1, lam=10.0)

    def lm_step():
        loss, _ = policy(chosen[None])
        loss.backward()
        opt.step()
        opt.zero_grad()

    def dpo_step():
        dpo(policy, ([chosen], [rejected])).loss.backward()
        opt.step()
        opt.zero_grad()

    out = {}
    for name, fn in (("finetune_step", lm_step), ("dpo_step", dpo_step)):
        fn()  # warm-up
        times = [timed(fn)[1:] for _ in range(rounds)]
        out[name] = {"wall_s": statistics.median(t[0] for t in times), "cpu_s": statistics.median(t[1] for t in times)}
    out["ratio_wall"] = out["dpo_step"]["wall_s"] / out["finetune_step"]["wall_s"]
    out["ratio_cpu"] = out["dpo_step"]["cpu_s"] / out["finetune_step"]["cpu_s"]
    out["piece_patches"] = int(chosen.shape[0])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--patches", type=int, default=16)
    ap.add_argument(
        "--shape",
        choices=["tiny", "small"],
        default="tiny",
        help="generation model: tiny (the DAG's) or NotaGen-small's 768 x 12 + 3 layers",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    context, patches, rounds = (64, 4, 1) if args.quick else (args.context, args.patches, 2)
    dims = {"tiny": (128, 3, 1), "small": (768, 12, 3)}[args.shape]
    cfg = NotaGenConfig(
        hidden=dims[0], patch_layers=dims[1], char_layers=dims[2], patch_length=max(128, context + 2 * patches)
    )
    torch.manual_seed(0)
    model = NotaGenModel(cfg).eval()
    gen = bench_generation(model, context, patches, rounds)
    batch = bench_batch(model, 2 if args.quick else 8, 4 if args.quick else 32)
    steps = bench_steps(
        NotaGenConfig(hidden=128, patch_layers=3, char_layers=1, patch_length=256),
        32 if args.quick else 128,
        1 if args.quick else 5,
    )
    print(f"NotaGen {args.shape} ({sum(p.numel() for p in model.parameters()):,} params), threads {args.threads}")
    print(f"generation at {gen['context_patches']} context patches, {gen['cached']['patches']} new patches:")
    for name in ("cached", "recompute"):
        r = gen[name]
        print(
            f"  {name:9s} {r['chars']:5d} chars  {r['chars_per_s']:9.1f} chars/s  {r['chars_per_cpu_s']:9.1f} chars/cpu-s"  # noqa: E501
        )
    print(f"  ratio cached/recompute: {gen['ratio_wall']:.1f}x wall, {gen['ratio_cpu']:.1f}x cpu (goal >= 5x)")
    print(
        f"batched generation, {batch['pieces']} pieces x {batch['patches']} patches: "
        f"{batch['ratio_cpu']:.1f}x cpu, {batch['ratio_wall']:.1f}x wall vs one by one"
    )
    print(f"training steps at {steps['piece_patches']} patches per piece:")
    for name in ("finetune_step", "dpo_step"):
        print(f"  {name:13s} {steps[name]['wall_s'] * 1e3:8.1f} ms wall  {steps[name]['cpu_s'] * 1e3:8.1f} ms cpu")
    print(f"  ratio DPO/fine-tune: {steps['ratio_wall']:.2f}x wall, {steps['ratio_cpu']:.2f}x cpu (upstream ~2-3x)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"generation": gen, "batch": batch, "steps": steps, "threads": args.threads, "quick": args.quick},
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
