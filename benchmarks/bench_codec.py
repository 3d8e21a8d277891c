"""Codec speed on CPU: encode / decode real-time factor of our codec, and its throughput vs
transformers' ``EncodecModel`` of the same size holding the same weights (codes checked equal).

    python benchmarks/bench_codec.py [--config tiny|encodec_32khz] [--seconds 20] [--repeats 3]
                                     [--threads N] [--quick]

Real-time factor = seconds of audio per second of wall time (higher is faster), best of
``--repeats`` interleaved runs. Our codec reuses
transformers' SEANet modules and has its own residual VQ, so the ratio measures the quantizer
and wrapper overheads; it should stay at or above 1.0x. --quick: 2 s of audio, 1 repeat.
"""

from __future__ import annotations

import argparse
import time

import torch

from pipeline.codec import Codec, CodecConfig
from pipeline.codec.keymap import to_transformers


def timed_interleaved(fns: dict, repeats: int) -> dict:
    """Best-of-``repeats`` wall time per function, the functions taking turns (so a load spike on a
    shared machine hits both sides alike), after two warm-up calls each (oneDNN primitive setup)."""
    for fn in fns.values():
        fn(), fn()
    best = {k: float("inf") for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="tiny", choices=["tiny", "encodec_32khz"])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.repeats = 2.0, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import EncodecModel

    torch.manual_seed(0)
    ours = Codec(CodecConfig.from_name(args.config)).eval()
    with torch.no_grad():  # codebooks as after training (a fresh k-means codec has all-zero rows)
        for layer in ours.quantizer.layers:
            layer._codebook.embed.normal_(0, 0.5)
            layer._codebook.initted.fill_(True)
    hf = EncodecModel(ours.cfg.to_hf()).eval()
    hf.load_state_dict(to_transformers(ours.state_dict()), strict=True)
    wave = 0.1 * torch.randn(1, 1, int(args.seconds * ours.sample_rate))
    with torch.inference_mode():
        codes = ours.encode(wave)
        hf_codes = hf.encode(wave).audio_codes
        same = bool(torch.equal(codes, hf_codes[0]))
        t = timed_interleaved(
            {
                "enc": lambda: ours.encode(wave),
                "hf_enc": lambda: hf.encode(wave),
                "dec": lambda: ours.decode(codes),
                "hf_dec": lambda: hf.decode(hf_codes, [None]),
            },
            args.repeats,
        )
        t_enc, t_hf_enc, t_dec, t_hf_dec = t["enc"], t["hf_enc"], t["dec"], t["hf_dec"]
    n_params = sum(p.numel() for p in ours.parameters())
    print(
        f"codec {args.config}: {ours.sample_rate} Hz, {ours.n_q} x {ours.bins} codes, {ours.frame_rate:g} frames/s, "
        f"{n_params / 1e6:.2f}M parameters, {args.seconds:g} s of audio, {torch.get_num_threads()} threads"
    )
    print(f"codes identical to transformers EncodecModel: {same}")
    print(f"ours encode RTF {args.seconds / t_enc:8.1f}x   decode RTF {args.seconds / t_dec:8.1f}x")
    print(f"HF   encode RTF {args.seconds / t_hf_enc:8.1f}x   decode RTF {args.seconds / t_hf_dec:8.1f}x")
    print(f"throughput ratio ours / transformers: encode {t_hf_enc / t_enc:.2f}x, decode {t_hf_dec / t_dec:.2f}x")
    if not same:
        raise SystemExit("codes differ from transformers' EncodecModel")


if __name__ == "__main__":
    main()
