"""CLaMP-DPO step time vs a plain fine-tune step of the same NotaGen model, same process.

    python benchmarks/bench_dpo.py [--quick] [--threads N] [--hidden H] [--patches P]

A fine-tune step is forward + backward + AdamW over one piece (PatchLMObjective); a DPO step
(pipeline/train/dpo.py, batch = 1 pair as upstream) runs the policy on chosen + rejected with
gradients and the frozen reference on both under no_grad. Issue 12 expects ~2-3x. Steps are
interleaved and the median is reported, per wall-clock second and per CPU second of this process
(the steadier number on a shared machine). --quick: tiny sizes and 2 rounds (a smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def median_step(fn, rounds: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    from pipeline.clamp.dpo_job import notagen_logprob
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel
    from pipeline.notagen.objective import PatchLMObjective
    from pipeline.train.dpo import DPOObjective

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--patches", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    if a.quick:
        a.hidden, a.patches, a.rounds = 64, 32, 2
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = NotaGenConfig(hidden=a.hidden, patch_layers=3, char_layers=1, patch_length=a.patches)
    policy = NotaGenModel(cfg).train()
    reference = NotaGenModel(cfg)
    reference.load_state_dict(policy.state_dict())

    def piece():
        p = torch.randint(3, 128, (a.patches, cfg.patch_size))
        p[0], p[-1] = 1, 2
        return p

    chosen, rejected, plain = piece(), piece(), piece()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    lm, dpo = PatchLMObjective(), DPOObjective(reference, notagen_logprob)
    dpo.setup(policy, torch.device("cpu"))

    def step(loss_fn):
        def run():
            loss = loss_fn()
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        return run

    finetune = step(lambda: lm(policy, (plain[None], torch.ones(1, a.patches, dtype=torch.long))).loss)
    dpo_step = step(lambda: dpo(policy, ([chosen], [rejected])).loss)
    finetune(), dpo_step()  # warm-up
    ft, dp = [], []
    for _ in range(a.rounds):  # interleaved, so machine load hits both alike
        ft.append(median_step(finetune, 1))
        dp.append(median_step(dpo_step, 1))
    ft_w, ft_c = statistics.median(x[0] for x in ft), statistics.median(x[1] for x in ft)
    dp_w, dp_c = statistics.median(x[0] for x in dp), statistics.median(x[1] for x in dp)
    print(
        f"NotaGen hidden {a.hidden} x {cfg.patch_layers}+{cfg.char_layers} layers, {a.patches} patches, "
        f"{a.threads} thread(s), {a.rounds} rounds"
    )
    print(f"{'step':<12}{'wall s':>10}{'cpu s':>10}")
    print(f"{'fine-tune':<12}{ft_w:>10.3f}{ft_c:>10.3f}")
    print(f"{'DPO pair':<12}{dp_w:>10.3f}{dp_c:>10.3f}")
    print(f"ratio DPO / fine-tune: {dp_w / ft_w:.2f}x wall, {dp_c / ft_c:.2f}x cpu (expected ~2-3x)")


if __name__ == "__main__":
    main()
