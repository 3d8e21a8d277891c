"""Aria speed, side by side with peers in the same process; prints a table and ratios.

    python benchmarks/bench_aria.py [--quick] [--threads N] [--json out.json]

--quick: tiny sizes (batch 1 x 64, one step, 32 new tokens), a smoke run whose numbers mean little.

1. training tokens/s (fwd + bwd + AdamW step): our TransformerLM vs transformers'
   LlamaForCausalLM with the same d_model / layers / heads / FFN / vocab (target ratio >= 1.0);
2. greedy decode tokens/s, batch 1: our KV-cache generate vs transformers' ``generate``
   (use_cache=True) and vs our own no-cache path (target >= 5x at 1,024 new tokens);
3. MLX (pipeline.aria.mlx_backend) vs torch decode tokens/s on the same weights.

Peers run interleaved in the same process (training: median step; decode: best of rounds).
Two throughputs are printed: per wall-clock second and per CPU second of this process; on a
shared machine the CPU-second figure is the steadier one. torch threads default to 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.aria.model import ModelConfig, build, save  # noqa: E402
from pipeline.sample import generate  # noqa: E402

CFG = ModelConfig(d_model=256, n_heads=4, n_layers=4, vocab_size=17727, max_seq_len=2048)


def llama_peer(cfg: ModelConfig):
    from transformers import LlamaConfig, LlamaForCausalLM

    hf = LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.ff_mult * cfg.d_model,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.max_seq_len,
        rope_theta=cfg.rope_base,
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(hf)


def timed(fn):
    """(result, wall seconds, CPU seconds of this process)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def rates(tokens: int, walls: list[float], cpus: list[float], pick=statistics.median) -> dict:
    return {"wall": tokens / pick(walls), "cpu": tokens / pick(cpus)}


def bench_train(batch: int, seq: int, steps: int) -> dict:
    torch.manual_seed(0)
    ours, peer = build(CFG).train(), llama_peer(CFG).train()
    data = torch.randint(0, CFG.vocab_size, (batch, seq + 1))
    x, y = data[:, :-1], data[:, 1:]

    def stepper(model, logits_of):
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-5, weight_decay=0.1)

        def step():
            loss = F.cross_entropy(logits_of(model).flatten(0, 1), y.flatten())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        return step

    runs = {
        "ours": stepper(ours, lambda m: m(x)),
        "llama": stepper(peer, lambda m: m(input_ids=x, use_cache=False).logits),
    }
    for step in runs.values():  # warm-up
        step()
    walls, cpus = {k: [] for k in runs}, {k: [] for k in runs}
    for _ in range(steps):  # interleaved, so load changes hit both
        for k, step in runs.items():
            _, w, c = timed(step)
            walls[k].append(w)
            cpus[k].append(c)
    return {k: rates(batch * seq, walls[k], cpus[k]) for k in runs}


def bench_decode(new_tokens: int, prompt_len: int, rounds: int) -> tuple[dict, dict]:
    torch.manual_seed(0)
    ours, peer = build(CFG).eval(), llama_peer(CFG).eval()
    prompt = torch.randint(6, CFG.vocab_size, (prompt_len,)).tolist()
    ids = torch.tensor([prompt])
    greedy = dict(temperature=0, eos_id=None)
    hf_kw = dict(do_sample=False, use_cache=True, pad_token_id=0, eos_token_id=None)

    def hf(n):
        with torch.inference_mode():
            out = peer.generate(ids, max_new_tokens=n, min_new_tokens=n, **hf_kw)
        assert out.shape[1] == prompt_len + n
        return out

    runs = {
        "ours_kv": lambda n: generate(ours, [prompt], max_new_tokens=n, **greedy),
        "hf_generate": hf,
    }
    mlx_model = load_mlx(ours)
    if mlx_model is not None:
        from pipeline.aria import mlx_backend as nmlx

        runs["mlx_kv"] = lambda n: nmlx.generate(mlx_model, [prompt], max_new_tokens=n, **greedy)
    outs = {}
    walls, cpus = {k: [] for k in runs}, {k: [] for k in runs}
    for run in runs.values():  # warm-up
        run(8)
    for _ in range(rounds):
        for k, run in runs.items():
            outs[k], w, c = timed(lambda: run(new_tokens))  # noqa: B023 (called at once)
            walls[k].append(w)
            cpus[k].append(c)
    res = {k: rates(new_tokens, walls[k], cpus[k], pick=min) for k in runs}
    out_nc, w, c = timed(lambda: generate(ours, [prompt], max_new_tokens=new_tokens, use_cache=False, **greedy))
    res["ours_no_cache"] = rates(new_tokens, [w], [c])
    torch_tokens = outs["ours_kv"][0]
    info = {"cache_equals_no_cache": torch_tokens == out_nc[0]}
    if "mlx_kv" in outs:
        mlx_tokens = outs["mlx_kv"][0]
        same = next((i for i, (a, b) in enumerate(zip(mlx_tokens, torch_tokens)) if a != b), len(mlx_tokens))
        info["mlx_same_prefix"] = same - prompt_len
    return res, info


def load_mlx(model):
    try:
        from pipeline.aria import mlx_backend as nmlx

        with tempfile.TemporaryDirectory() as d:
            return nmlx.load(save(model, Path(d) / "bench.safetensors"))
    except ImportError as e:
        print(f"MLX skipped: {e}")
        return None


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every path (seconds)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: stable on a shared 2-core box; try 2 on a quiet one)",
    )
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    batch, seq, steps = (1, 64, 1) if args.quick else (4, 512, 5)
    new_tokens, rounds = (32, 1) if args.quick else (1024, 2)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})")
    print(
        f"model d{CFG.d_model} x {CFG.n_layers} layers, {CFG.n_heads} heads, ffn {CFG.ff_mult * CFG.d_model}, "
        f"vocab {CFG.vocab_size}; fp32 CPU; MLX threads are managed by MLX"
    )

    train = bench_train(batch, seq, steps)
    decode, info = bench_decode(new_tokens, 16, rounds=rounds)

    rows = [
        (f"train fwd+bwd+AdamW, batch {batch} x seq {seq}", "ours TransformerLM", train["ours"]),
        ("", "transformers LlamaForCausalLM", train["llama"]),
        (f"greedy decode, batch 1, {new_tokens} new tokens", "ours, KV cache", decode["ours_kv"]),
        ("", "ours, no cache", decode["ours_no_cache"]),
        ("", "transformers generate(use_cache)", decode["hf_generate"]),
    ]
    if "mlx_kv" in decode:
        rows.append(("", "MLX, KV cache", decode["mlx_kv"]))
    print(f"\n{'benchmark':<44} {'system':<34} {'tok/s':>9} {'tok/CPU-s':>10}")
    for bench, system, v in rows:
        print(f"{bench:<44} {system:<34} {v['wall']:>9.1f} {v['cpu']:>10.1f}")
    pairs = {
        "train ours / llama (target >= 1.0)": (train["ours"], train["llama"]),
        "decode ours KV / transformers generate": (decode["ours_kv"], decode["hf_generate"]),
        f"decode ours KV / ours no-cache at {new_tokens} (target >= 5)": (decode["ours_kv"], decode["ours_no_cache"]),
    }
    if "mlx_kv" in decode:
        pairs["decode MLX / torch (ours KV)"] = (decode["mlx_kv"], decode["ours_kv"])
    ratios = {k: {m: a[m] / b[m] for m in ("wall", "cpu")} for k, (a, b) in pairs.items()}
    print(f"\n{'ratio':<62} {'wall':>7} {'CPU':>7}")
    for k, v in ratios.items():
        print(f"{k:<62} {v['wall']:6.2f}x {v['cpu']:6.2f}x")
    print(f"\ngreedy KV-cache tokens == no-cache tokens: {info['cache_equals_no_cache']}")
    if "mlx_same_prefix" in info:
        print(f"MLX greedy tokens identical to torch for the first {info['mlx_same_prefix']} of {new_tokens}")
    result = {
        "threads": torch.get_num_threads(),
        "quick": args.quick,
        "train": train,
        "decode": decode,
        "ratios": ratios,
        **info,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
