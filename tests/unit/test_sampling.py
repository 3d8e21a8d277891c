"""Shared sampler (filters, orders, guards) and batched KV-cache generation."""

import pytest
import torch

from pipeline.aria.model import ModelConfig, build
from pipeline.sample import (
    SamplingError,
    filtered_probs,
    generate,
    min_p_filter,
    sample_next,
    temperature_on_probs,
    top_k_filter,
    top_p_filter,
)

pytestmark = pytest.mark.unit

P = torch.tensor([[0.5, 0.3, 0.15, 0.05]])


def test_min_p_keeps_tokens_at_least_min_p_times_max():
    out = min_p_filter(P, 0.2)  # threshold 0.1
    torch.testing.assert_close(out, torch.tensor([[0.5, 0.3, 0.15, 0.0]]) / 0.95)
    torch.testing.assert_close(min_p_filter(P, 0.3), torch.tensor([[0.5, 0.3, 0.15, 0.0]]) / 0.95)  # 0.15 == 0.3*0.5
    torch.testing.assert_close(min_p_filter(P, 1.0), torch.tensor([[1.0, 0, 0, 0]]))


def test_top_p_keeps_smallest_prefix_reaching_top_p():
    torch.testing.assert_close(top_p_filter(P, 0.7), torch.tensor([[0.625, 0.375, 0, 0]]))
    torch.testing.assert_close(top_p_filter(P, 0.5), torch.tensor([[1.0, 0, 0, 0]]))
    torch.testing.assert_close(top_p_filter(P, 0.81), torch.tensor([[0.5, 0.3, 0.15, 0]]) / 0.95)
    torch.testing.assert_close(top_p_filter(P, 1.0), P)
    shuffled = P[:, [2, 0, 3, 1]]
    torch.testing.assert_close(top_p_filter(shuffled, 0.7), torch.tensor([[0, 0.625, 0, 0.375]]))


def test_top_k_keeps_k_most_likely():
    torch.testing.assert_close(top_k_filter(P[:, [3, 1, 0, 2]], 2), torch.tensor([[0, 0.375, 0.625, 0]]))
    torch.testing.assert_close(top_k_filter(P, 10), P)


def test_temperature_on_probs_is_power_renormalised():
    t = 0.7
    want = P ** (1 / t) / (P ** (1 / t)).sum()
    torch.testing.assert_close(temperature_on_probs(P, t), want)


def test_aria_order_is_temperature_then_min_p():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    probs = filtered_probs(logits, temperature=2.0, min_p=0.5)
    soft = torch.softmax(logits / 2.0, -1)
    want = torch.where(soft >= 0.5 * soft.max(), soft, 0.0)
    torch.testing.assert_close(probs, want / want.sum())
    # with temperature applied after truncation (notagen) the kept set differs
    logits = torch.tensor([[2.0, 1.5, 0.0, -1.0]])
    aria = filtered_probs(logits, temperature=3.0, top_p=0.55)
    nota = filtered_probs(logits, temperature=3.0, top_p=0.55, order="notagen")
    assert (aria > 0).sum() == 2 and (nota > 0).sum() == 1


def test_notagen_order_is_top_k_top_p_then_temperature():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0, -1.0]])
    probs = filtered_probs(logits, temperature=0.5, top_k=3, top_p=0.9, order="notagen")
    p = torch.softmax(logits, -1)[:, :3]
    p = p / p.sum()
    keep = (p.cumsum(-1) - p) < 0.9
    p = torch.where(keep, p, 0.0) / torch.where(keep, p, 0.0).sum()
    p = p**2 / (p**2).sum()
    torch.testing.assert_close(probs, torch.cat([p, torch.zeros(1, 2)], 1))


def test_greedy_at_temperature_zero():
    logits = torch.tensor([[0.1, 3.0, 0.2], [5.0, -1.0, 4.9]])
    assert sample_next(logits, temperature=0).tolist() == [1, 0]
    assert sample_next(logits, temperature=0, min_p=0.1, top_k=1).tolist() == [1, 0]


def test_samples_only_kept_tokens_and_are_seeded():
    logits = torch.log(P).repeat(4000, 1)
    g = torch.Generator().manual_seed(3)
    s = sample_next(logits, temperature=1.0, min_p=0.2, generator=g)
    assert set(s.tolist()) == {0, 1, 2}
    freq = torch.bincount(s, minlength=4).float() / len(s)
    torch.testing.assert_close(freq[:3], P[0, :3] / 0.95, atol=0.03, rtol=0)
    again = sample_next(logits, temperature=1.0, min_p=0.2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(s, again)


def test_min_p_with_top_p_is_an_error_not_silently_ignored():
    with pytest.raises(SamplingError, match="min_p=0.05 and top_p=0.9"):
        sample_next(torch.zeros(1, 4), temperature=1.0, min_p=0.05, top_p=0.9)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(temperature=-1),
        dict(temperature=float("nan")),
        dict(min_p=0.0),
        dict(top_p=1.5),
        dict(top_k=0),
        dict(top_k=2.5),
        dict(order="hf"),
    ],
)
def test_bad_options_raise(kwargs):
    with pytest.raises(SamplingError):
        sample_next(torch.zeros(1, 4), **{"temperature": 1.0, **kwargs})


def test_nan_and_fully_banned_rows_raise():
    with pytest.raises(SamplingError, match="NaN"):
        sample_next(torch.tensor([[0.0, float("nan")]]), temperature=1.0)
    inf = float("-inf")
    with pytest.raises(SamplingError, match=r"rows \[1\]"):
        sample_next(torch.tensor([[0.0, 1.0], [inf, inf]]), temperature=1.0)
    assert sample_next(torch.tensor([[inf, 0.0, inf]]), temperature=0.9, top_p=0.5).tolist() == [1]


# ----------------------------------------------------------------------------- generate


class CountingModel:
    """Stub LM: next token = (last token + 1) % V, with a trivial cache; follows generate's protocol."""

    def __init__(self, vocab=20, max_seq_len=64):
        self.config = ModelConfig(d_model=8, n_heads=1, n_layers=1, vocab_size=vocab, max_seq_len=max_seq_len)
        self.calls = []

    def new_kv_cache(self, batch_size, max_len):
        return object()

    def __call__(self, idx, kv_cache=None, start_pos=0):
        self.calls.append((idx.shape[1], start_pos))
        nxt = (idx + 1) % self.config.vocab_size
        return torch.nn.functional.one_hot(nxt, self.config.vocab_size).float() * 10

    forward = __call__


def test_generate_stops_rows_at_eos_and_keeps_prompts():
    model = CountingModel()
    out = generate(model, [[3], [7, 8], [12]], max_new_tokens=6, eos_id=10, temperature=0)
    assert out == [[3, 4, 5, 6, 7, 8, 9], [7, 8, 9, 10], [12, 13, 14, 15, 16, 17, 18]]
    assert model.calls[0] == (1, 0) and all(t == 1 for t, _ in model.calls[1:])  # prefill then decode


def test_generate_respects_context_length():
    model = CountingModel(max_seq_len=6)
    assert generate(model, [[1, 2], [1, 2, 3, 4, 5, 6]], max_new_tokens=100, temperature=0) == [
        [1, 2, 3, 4, 5, 6],
        [1, 2, 3, 4, 5, 6],
    ]
    with pytest.raises(ValueError, match="longer than the model context max_seq_len=6"):
        generate(model, [[1] * 7], max_new_tokens=1)
    with pytest.raises(ValueError, match="empty"):
        generate(model, [[]], max_new_tokens=1)


def test_generate_bans_and_forces_dim():
    from pipeline.sample.processors import ForceTokenAfter

    model = CountingModel()
    out = generate(model, [[1]], max_new_tokens=5, temperature=0, banned_ids=[3])
    assert 3 not in out[0][1:]
    out = generate(model, [[1]], max_new_tokens=5, temperature=0, processors=[ForceTokenAfter(15, 2)])
    assert out == [[1, 2, 3, 15, 16, 17]]
    with pytest.raises(SamplingError):  # banned and forced: the row has nothing left to sample
        generate(model, [[1]], max_new_tokens=5, banned_ids=[15], processors=[ForceTokenAfter(15, 2)])


@pytest.fixture(scope="module")
def tiny_lm():
    torch.manual_seed(0)
    cfg = ModelConfig(d_model=64, n_heads=4, n_layers=2, vocab_size=50, max_seq_len=48)
    return build(cfg).eval()


def test_greedy_cache_and_no_cache_are_identical_with_ragged_prompts(tiny_lm):
    prompts = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11]]
    cached = generate(tiny_lm, prompts, max_new_tokens=25, temperature=0)
    uncached = generate(tiny_lm, prompts, max_new_tokens=25, temperature=0, use_cache=False)
    assert cached == uncached
    assert [len(o) for o in cached] == [28, 32, 26]
    alone = [generate(tiny_lm, [p], max_new_tokens=25, temperature=0)[0] for p in prompts]
    assert cached == alone  # batching ragged prompts does not change any row


def test_seeded_sampling_is_reproducible(tiny_lm):
    kw = dict(max_new_tokens=20, temperature=0.98, min_p=0.035, seed=7)
    a = generate(tiny_lm, [[1, 2], [3]], **kw)
    assert a == generate(tiny_lm, [[1, 2], [3]], **kw)
    assert a != generate(tiny_lm, [[1, 2], [3]], **{**kw, "seed": 8})
    assert tiny_lm.training is False
