"""VALL-E model, objective, batches and decoding on a tiny random model with synthetic codes."""

import numpy as np
import pytest
import torch

from pipeline.valle.batches import ValleBatches, ValleItem
from pipeline.valle.infer import ar_decode, nar_decode, synthesize_codes
from pipeline.valle.model import ValleConfig, ValleInputError, build
from pipeline.valle.objective import ValleObjective

pytestmark = pytest.mark.unit

CFG = ValleConfig(d_model=32, nhead=2, n_layers=2, n_quantizers=4, audio_bins=64)


def _midi(n, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.stack([rng.integers(4, v, n) for v in (92, 68, 1156, 772, 388, 10)], axis=1)
    return np.concatenate([np.ones((1, 6)), rows, np.full((1, 6), 2)]).astype(np.int64)


def _items(k=6, nq=4, bins=64):
    rng = np.random.default_rng(3)
    return [ValleItem(_midi(5 + i, i), rng.integers(0, bins, (nq, 12 + 3 * i))) for i in range(k)]


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return build(CFG).eval()


def test_ar_is_causal_and_text_ignores_audio(model):
    b = ValleBatches(_items(), 2, seed=0).batch(0)
    logits, targets = model.ar_forward(b["midi"], b["x_lens"], b["codes"], b["y_lens"])
    assert logits.shape[-1] == 65 and targets.shape == b["codes"].shape[:2]
    later = b["codes"].clone()
    later[:, 6:, 0] = (later[:, 6:, 0] + 1) % 64
    logits2, _ = model.ar_forward(b["midi"], b["x_lens"], later, b["y_lens"])
    torch.testing.assert_close(logits[:, :6], logits2[:, :6])  # frames 0..5 never see frame 6+
    assert not torch.allclose(logits[:, 6:], logits2[:, 6:])
    # padded frames are trained towards EOS; the first frame is never a target
    short = int(b["y_lens"].argmin())
    assert (targets[short, int(b["y_lens"][short]) - 1 :] == 64).all()


def test_nar_loss_skips_the_prompt_and_padding(model):
    b = ValleBatches(_items(), 3, seed=1).batch(2)
    logits, targets = model.nar_forward(b["midi"], b["x_lens"], b["codes"], b["y_lens"], 2, 4)
    assert logits.shape[1] == b["codes"].shape[1] - 4 and logits.shape[-1] == 64
    torch.testing.assert_close(targets[0, : int(b["y_lens"][0]) - 4], b["codes"][0, 4 : int(b["y_lens"][0]), 2])
    assert (targets == 64).sum() == int((b["codes"].shape[1] - b["y_lens"]).sum())


@pytest.mark.parametrize("stage,keys", [(0, {"ar_loss", "nar_loss"}), (1, {"ar_loss"}), (2, {"nar_loss"})])
def test_objective_train_stages(model, stage, keys):
    model.train().freeze_for(stage)
    b = ValleBatches(_items(), 2, seed=0).batch(1)
    loss = ValleObjective(stage)(model, b)
    assert {k for k in loss.stats if k.endswith("_loss")} == keys
    loss.loss.backward()
    frozen = {1: "nar_decoder", 2: "ar_decoder"}.get(stage)
    for name, p in model.named_parameters():
        if frozen and name.startswith(frozen):
            assert p.grad is None
    assert model.ar_text_embedding.weight.grad is not None or stage == 2


def test_batches_are_a_pure_function_of_the_index():
    a, b = ValleBatches(_items(), 2, seed=5), ValleBatches(_items(), 2, seed=5)
    for i in (0, 7, 3):
        x, y = a.batch(i), b.batch(i)
        assert (x["codes"] == y["codes"]).all() and (x["nar_stage"], x["prefix"]) == (y["nar_stage"], y["prefix"])
        low = int(0.25 * int(x["y_lens"].min()))
        assert 1 <= x["nar_stage"] <= 3 and low <= x["prefix"] < 2 * low
    shards = [ValleBatches(_items(), 1, seed=5, rank=r, world_size=2) for r in range(2)]
    seen = [{int(s.batch(i)["y_lens"][0]) for i in range(3)} for s in shards]
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 6  # one epoch, dealt out disjointly


def test_kv_cache_decoding_equals_full_recompute(model):
    midi = torch.from_numpy(_midi(9))[None]
    prompt = torch.randint(0, 64, (1, 10, 4))
    out = []
    for cache in (True, False):
        g = torch.Generator().manual_seed(4)
        out.append(
            ar_decode(
                model, midi, prompt[..., 0], temperature=0.9, top_k=20, max_frames=30, use_cache=cache, generator=g
            )
        )
    assert out[0].shape[1] > 0 and torch.equal(out[0], out[1])
    codes = nar_decode(model, midi, prompt, out[0])
    assert codes.shape == (1, out[0].shape[1], 4) and torch.equal(codes[..., 0], out[0])
    assert synthesize_codes(model, midi, prompt, max_frames=5).shape[1] <= 5


def test_bad_inputs_are_named(model):
    midi = torch.from_numpy(_midi(4))[None].clone()
    midi[0, 2, 5] = 24  # bar 20: past the 20-row Bar embedding
    with pytest.raises(ValleInputError, match="Bar"):
        model.check_inputs(midi)
    with pytest.raises(ValleInputError, match="codes"):
        model.check_inputs(torch.from_numpy(_midi(4))[None], torch.zeros(1, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="frames"):
        ValleItem(_midi(3), np.zeros((4, 3)))
