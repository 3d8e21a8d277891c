"""NotaGen model: upstream key layout, strict loaders (ours + upstream .pth), summed log-probs."""

from __future__ import annotations

import pytest
import torch
from transformers import GPT2LMHeadModel

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

from pipeline.notagen.checkpoint import (  # noqa: E402
    NotaGenCheckpointError,
    PatchSizeMismatch,
    load,
    save,
)
from pipeline.notagen.model import CONFIGS, NotaGenConfig, NotaGenModel, logprob  # noqa: E402
from pipeline.notagen.patchilizer import patchify  # noqa: E402

# upstream's tiny test checkpoint: H 64, 2 patch layers, 1 char layer, PATCH_LENGTH 64
TINY = NotaGenConfig(hidden=64, patch_layers=2, char_layers=1, patch_length=64)
PIECE = (
    "%Classical\n%Mozart\n%Keyboard\nL:1/8\nM:3/4\nK:G\nV:1\nV:2\n"
    "[V:1]|:d2 g2 b2|[V:2]|:G,4 B,2|\n[V:1]a4 g2|[V:2]D4 D2|\n[V:1]g6:|[V:2]G,6:|\n"
)


def upstream_keys(cfg: NotaGenConfig) -> list[tuple[str, tuple]]:
    """The state-dict layout of upstream's NotaGenLMHeadModel (spec section 1), in order."""
    H, layer = (
        cfg.hidden,
        [
            "ln_1.weight",
            "ln_1.bias",
            "attn.c_attn.weight",
            "attn.c_attn.bias",
            "attn.c_proj.weight",
            "attn.c_proj.bias",
            "ln_2.weight",
            "ln_2.bias",
            "mlp.c_fc.weight",
            "mlp.c_fc.bias",
            "mlp.c_proj.weight",
            "mlp.c_proj.bias",
        ],
    )
    shape = {
        "ln_1.weight": (H,),
        "ln_1.bias": (H,),
        "attn.c_attn.weight": (H, 3 * H),
        "attn.c_attn.bias": (3 * H,),
        "attn.c_proj.weight": (H, H),
        "attn.c_proj.bias": (H,),
        "ln_2.weight": (H,),
        "ln_2.bias": (H,),
        "mlp.c_fc.weight": (H, 4 * H),
        "mlp.c_fc.bias": (4 * H,),
        "mlp.c_proj.weight": (4 * H, H),
        "mlp.c_proj.bias": (H,),
    }
    p, c = "patch_level_decoder.", "char_level_decoder.base."
    keys = [
        (p + "patch_embedding.weight", (H, cfg.patch_size * 128)),
        (p + "patch_embedding.bias", (H,)),
        (p + "base.wte.weight", (1, H)),
        (p + "base.wpe.weight", (cfg.patch_length, H)),
    ]
    keys += [(f"{p}base.h.{i}.{s}", shape[s]) for i in range(cfg.patch_layers) for s in layer]
    keys += [
        (p + "base.ln_f.weight", (H,)),
        (p + "base.ln_f.bias", (H,)),
        (c + "transformer.wte.weight", (128, H)),
        (c + "transformer.wpe.weight", (cfg.patch_size + 1, H)),
    ]
    keys += [(f"{c}transformer.h.{i}.{s}", shape[s]) for i in range(cfg.char_layers) for s in layer]
    keys += [
        (c + "transformer.ln_f.weight", (H,)),
        (c + "transformer.ln_f.bias", (H,)),
        (c + "lm_head.weight", (128, H)),
    ]
    return keys


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return NotaGenModel(TINY).eval()


def upstream_file(model: NotaGenModel, path, state=None):
    """A six-key pretrain/finetune .pth as upstream's train-gen.py writes it."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    torch.save(
        {
            "model": state if state is not None else model.state_dict(),
            "optimizer": opt.state_dict(),
            "lr_sched": sched.state_dict(),
            "epoch": 3,
            "best_epoch": 3,
            "min_eval_loss": 1.5,
        },
        path,
    )
    return path


def test_key_layout_is_upstreams(tiny):
    sd = tiny.state_dict()
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == upstream_keys(TINY)
    assert len(sd) == 47
    c = "char_level_decoder.base."
    assert sd[c + "lm_head.weight"].data_ptr() == sd[c + "transformer.wte.weight"].data_ptr()


def test_named_configs_have_released_shapes():
    large = NotaGenConfig.from_name("large")
    assert (large.hidden, large.patch_layers, large.char_layers, large.patch_length, large.heads) == (
        1280,
        20,
        6,
        1024,
        20,
    )
    assert CONFIGS["small"].heads == 12 and CONFIGS["medium"].patch_length == 2048
    assert NotaGenConfig.from_name("tiny", hidden=64, patch_length=32) == NotaGenConfig(hidden=64, patch_length=32)
    with pytest.raises(ValueError, match="multiple of 64"):
        NotaGenConfig(hidden=100)
    with pytest.raises(ValueError, match="allowed"):
        NotaGenConfig.from_name("tiny", heads=2)
    with pytest.raises(ValueError, match="known"):
        NotaGenConfig.from_name("huge")


def test_params_literals_match_the_model_config():
    """abc_pretrain.model names a CONFIGS entry; model_overrides may set every NotaGenConfig field but
    patch_size (the patchilizer's 16 characters)."""
    from dataclasses import fields
    from typing import get_args

    from pipeline.params.notagen import AbcPretrainParams, NotagenModelKey, NotagenModelName

    assert set(get_args(NotagenModelName)) == set(CONFIGS)
    assert set(get_args(NotagenModelKey)) == {f.name for f in fields(NotaGenConfig)} - {"patch_size"}
    with pytest.raises(ValueError, match="'hidden', 'patch_layers'"):
        AbcPretrainParams(model_overrides={"patch_size": 8})


def reference_logprob(model: NotaGenModel, patches: torch.Tensor) -> torch.Tensor:
    """Upstream's RL formulation, written independently: 17-position char decoder per target
    patch with labels [BOS, c0..c15] and a key-padding mask; sum of log-softmax at targets."""
    hidden = model.patch_level_decoder(patches[None]).last_hidden_state[0]
    lm: GPT2LMHeadModel = model.char_level_decoder.base
    total = torch.zeros(())
    for t in range(patches.shape[0] - 1):
        chars = patches[t + 1]
        tokens = torch.cat([torch.tensor([1]), chars])
        emb = torch.cat([hidden[t][None], lm.transformer.wte(tokens[1:])])[None]
        mask = (tokens != 0).long()[None]
        logits = lm(inputs_embeds=emb, attention_mask=mask).logits[0, :-1]
        lp = torch.log_softmax(logits, -1).gather(-1, chars[:, None])[:, 0]
        total = total + (lp * (chars != 0)).sum()
    return total


def test_logprob_matches_upstream_formulation(tiny):
    patches = patchify(PIECE)
    with torch.no_grad():
        ours, ref = logprob(tiny, patches), reference_logprob(tiny, patches)
    assert ours.shape == () and torch.allclose(ours, ref, atol=1e-3)
    loss, n = tiny(patches[None])
    assert torch.allclose(loss * n, -ours, rtol=1e-4)  # LM loss = mean over the same targets


def test_logprob_batched_padded_and_differentiable(tiny):
    a, b = patchify(PIECE), patchify(PIECE.replace("[V:1]g6:|[V:2]G,6:|\n", ""))
    batch = logprob(tiny, [a, b])
    assert batch.shape == (2,)
    assert torch.allclose(batch, torch.stack([logprob(tiny, a), logprob(tiny, b)]), atol=1e-3)
    tiny.zero_grad()
    batch.sum().backward()
    assert tiny.patch_level_decoder.patch_embedding.weight.grad.abs().sum() > 0
    tiny.zero_grad()


def test_caller_masks_are_not_mutated(tiny):
    p = patchify(PIECE)[None]
    masks = torch.ones(p.shape[:2], dtype=torch.long)
    tiny(p, masks)
    assert bool(masks.all())


def test_safetensors_round_trip(tiny, tmp_path):
    save(tiny, tmp_path)
    again = load(tmp_path)
    assert again.config == tiny.config
    for (k, v), (k2, v2) in zip(tiny.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


def test_upstream_pth_loads_strictly(tiny, tmp_path):
    path = upstream_file(tiny, tmp_path / "weights_notagen_tiny.pth")
    model = load(path)
    assert model.config == TINY and not model.training
    p = patchify(PIECE)
    assert torch.allclose(logprob(model, p), logprob(tiny, p))
    rl = tmp_path / "rl.pth"  # RL/train.py saves {'model': ...} only
    torch.save({"model": tiny.state_dict()}, rl)
    assert load(rl).config == TINY
    old = dict(tiny.state_dict())  # an old-transformers file with attention buffers
    old["patch_level_decoder.base.h.0.attn.bias"] = torch.ones(1, 1, 64, 64, dtype=torch.bool)
    assert load(upstream_file(tiny, tmp_path / "old.pth", old)).config == TINY


def test_loader_named_errors(tiny, tmp_path):
    sd = dict(tiny.state_dict())
    missing = {k: v for k, v in sd.items() if "h.1.mlp.c_fc.bias" not in k}
    with pytest.raises(NotaGenCheckpointError, match="missing"):
        load(upstream_file(tiny, tmp_path / "m.pth", missing))
    extra = sd | {"patch_level_decoder.extra": torch.zeros(1)}
    with pytest.raises(NotaGenCheckpointError, match="unexpected"):
        load(upstream_file(tiny, tmp_path / "e.pth", extra))
    untied = sd | {"char_level_decoder.base.lm_head.weight": torch.randn(128, 64)}
    with pytest.raises(NotaGenCheckpointError, match="ties"):
        load(upstream_file(tiny, tmp_path / "u.pth", untied))
    torch.save({"state": sd}, tmp_path / "w.pth")
    with pytest.raises(NotaGenCheckpointError, match="no 'model'"):
        load(tmp_path / "w.pth")
    with pytest.raises(NotaGenCheckpointError, match="no such"):
        load(tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(NotaGenCheckpointError, match="weights_only"):
        load(tmp_path / "junk.pth")


def test_other_patch_size_is_a_named_error(tmp_path):
    torch.manual_seed(0)
    p8 = NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=32, patch_size=8))
    path = upstream_file(p8, tmp_path / "p8.pth")
    with pytest.raises(PatchSizeMismatch, match="patch size is 8"):
        load(path)
    assert load(path, patch_size=None).config.patch_size == 8


def test_context_overflow_is_named(tiny):
    with pytest.raises(ValueError, match="exceed the model's context"):
        tiny(torch.zeros(1, 65, 16, dtype=torch.long))
