"""Contrastive negatives across processes: with 2 gloo processes the loss and the averaged
gradient equal one process holding both processes' pairs."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pipeline.train.contrastive import gather_across_processes, info_nce

pytestmark = pytest.mark.unit


def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g), torch.randn(4, 4, generator=g)


def _worker(rank, world, store, out):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    a, b, w = data()
    w = w.clone().requires_grad_()
    n = len(a) // world
    ga, gb = (
        gather_across_processes(a[rank * n : (rank + 1) * n] @ w),
        gather_across_processes(b[rank * n : (rank + 1) * n] @ w),
    )
    loss, _ = info_nce(ga, gb, 0.1)
    loss.backward()
    grad = w.grad.clone()
    dist.all_reduce(grad)
    torch.save({"loss": loss.detach(), "grad": grad / world}, f"{out}.{rank}")
    # both ranks are done with every collective before either tears the group (and its file
    # store) down: without it, a rank exiting early once aborted the other inside gloo (CI)
    dist.barrier()
    dist.destroy_process_group()


def test_two_processes_see_the_global_batch_as_negatives(tmp_path):
    a, b, w = data()
    w = w.clone().requires_grad_()
    ref, _ = info_nce(a @ w, b @ w, 0.1)
    ref.backward()
    mp.spawn(_worker, args=(2, tmp_path / "store", tmp_path / "out"), nprocs=2, join=True)
    for rank in (0, 1):
        got = torch.load(tmp_path / f"out.{rank}", weights_only=True)
        torch.testing.assert_close(got["loss"], ref.detach())
        torch.testing.assert_close(got["grad"], w.grad, rtol=1e-5, atol=1e-6)  # DDP's average = the true gradient


def test_single_process_is_a_no_op():
    x = torch.randn(3, 2)
    assert gather_across_processes(x) is x
