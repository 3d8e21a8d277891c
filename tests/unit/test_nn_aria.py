"""Aria torch model: spec-layout checkpoints, strict loading, RoPE, KV cache, parameter count."""

import math
import sys

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from pipeline.aria.load import read_header
from pipeline.aria.model import (
    CONFIGS,
    CheckpointError,
    ModelConfig,
    TransformerEMB,
    TransformerLM,
    apply_rope,
    build,
    count_parameters,
    load,
    rope_tables,
    save,
)

pytestmark = pytest.mark.unit

VOCAB, D, LAYERS = 40, 128, 2


def spec_state_dict(vocab=VOCAB, d=D, n_layers=LAYERS, head="lm", emb_size=16, seed=0):
    """A random checkpoint written key by key from specs/aria-checkpoint.md (not via our model)."""
    g = torch.Generator().manual_seed(seed)

    def w(*shape, scale=0.05):
        return torch.randn(*shape, generator=g) * scale

    sd = {"model.tok_embeddings.weight": w(vocab, d, scale=1.0)}
    for i in range(n_layers):
        p = f"model.encode_layers.{i}."
        sd[p + "mixed_qkv.weight"] = w(3 * d, d)
        sd[p + "att_proj_linear.weight"] = w(d, d)
        sd[p + "ff_gate_proj.weight"] = w(4 * d, d)
        sd[p + "ff_up_proj.weight"] = w(4 * d, d)
        sd[p + "ff_down_proj.weight"] = w(d, 4 * d)
        for n in ("norm1", "norm2"):
            sd[p + n + ".weight"] = 1 + w(d, scale=0.1)
            sd[p + n + ".bias"] = w(d, scale=0.1)
    sd["model.out_layer_norm.weight"] = 1 + w(d, scale=0.1)
    sd["model.out_layer_norm.bias"] = w(d, scale=0.1)
    if head == "lm":
        sd["lm_head.weight"] = w(vocab, d)
    else:
        sd["emb_head.weight"] = w(emb_size, d)
    return sd


def reference_hidden(sd, idx, n_heads):
    """Direct transcription of the spec's forward pass, independent of pipeline.aria.model."""
    d = sd["model.tok_embeddings.weight"].shape[1]
    dh, t = d // n_heads, idx.shape[1]
    inv = 500000.0 ** (-torch.arange(0, dh, 2, dtype=torch.float64) / dh)
    ang = torch.arange(t, dtype=torch.float64)[:, None] * inv[None]
    cos, sin = ang.cos().float(), ang.sin().float()

    def rot(x):
        x1, x2 = x[..., : dh // 2], x[..., dh // 2 :]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)

    x = sd["model.tok_embeddings.weight"][idx]
    n_layers = len({k.split(".")[2] for k in sd if k.startswith("model.encode_layers.")})
    for i in range(n_layers):
        p = f"model.encode_layers.{i}."
        h = F.layer_norm(x, (d,), sd[p + "norm1.weight"], sd[p + "norm1.bias"])
        q, k, v = (h @ sd[p + "mixed_qkv.weight"].T).split(d, dim=-1)
        q, k, v = (z.view(1, t, n_heads, dh).transpose(1, 2) for z in (q, k, v))
        q, k = rot(q), rot(k)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
        att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(1, t, d)
        x = x + y @ sd[p + "att_proj_linear.weight"].T
        h = F.layer_norm(x, (d,), sd[p + "norm2.weight"], sd[p + "norm2.bias"])
        ff = F.silu(h @ sd[p + "ff_gate_proj.weight"].T) * (h @ sd[p + "ff_up_proj.weight"].T)
        x = x + ff @ sd[p + "ff_down_proj.weight"].T
    return F.layer_norm(x, (d,), sd["model.out_layer_norm.weight"], sd["model.out_layer_norm.bias"])


@pytest.fixture
def spec_ckpt(tmp_path):
    sd = spec_state_dict()
    path = tmp_path / "aria.safetensors"
    save_file(sd, str(path))
    return path, sd


def test_medium_parameter_count_without_allocating():
    n = count_parameters(CONFIGS["medium"])
    assert 640e6 < n < 670e6, n  # "about 650M"
    assert CONFIGS["medium"].head_dim == 64 and CONFIGS["medium"].vocab_size == 17727


def test_rope_half_split_matches_direct_formula():
    dh, t, base = 8, 6, 500000.0
    x = torch.randn(1, 1, t, dh)
    cos, sin = rope_tables(dh, torch.arange(3, 3 + t), base)
    out = apply_rope(x, cos, sin)
    for pos in range(t):
        for i in range(dh // 2):
            th = (pos + 3) * base ** (-2 * i / dh)
            a, b = x[0, 0, pos, i].item(), x[0, 0, pos, i + dh // 2].item()
            assert out[0, 0, pos, i].item() == pytest.approx(a * math.cos(th) - b * math.sin(th), abs=1e-5)
            assert out[0, 0, pos, i + dh // 2].item() == pytest.approx(b * math.cos(th) + a * math.sin(th), abs=1e-5)


def test_spec_checkpoint_loads_strictly_and_matches_reference(spec_ckpt):
    path, sd = spec_ckpt
    model = load(path, max_seq_len=64)
    assert isinstance(model, TransformerLM)
    cfg = model.config
    assert (cfg.d_model, cfg.n_layers, cfg.vocab_size, cfg.n_heads, cfg.ff_mult) == (D, LAYERS, VOCAB, 2, 4)
    idx = torch.randint(0, VOCAB, (1, 12))
    with torch.no_grad():
        ref = reference_hidden(sd, idx, n_heads=2) @ sd["lm_head.weight"].T
        torch.testing.assert_close(model(idx), ref, atol=1e-5, rtol=1e-5)
    four = load(path, n_heads=4, max_seq_len=64)
    with torch.no_grad():
        ref4 = reference_hidden(sd, idx, n_heads=4) @ sd["lm_head.weight"].T
        torch.testing.assert_close(four(idx), ref4, atol=1e-5, rtol=1e-5)


def test_embedding_checkpoint_gives_head_at_eos(tmp_path):
    sd = spec_state_dict(head="emb", emb_size=16)
    save_file(sd, str(tmp_path / "emb.safetensors"))
    model = load(tmp_path / "emb.safetensors")
    assert isinstance(model, TransformerEMB) and model.config.emb_size == 16
    idx = torch.tensor([[5, 6, 7, 1, 9, 9], [5, 8, 1, 2, 2, 2]])
    with torch.no_grad():
        emb = model(idx, eos_id=1)
        torch.testing.assert_close(emb, model(idx, torch.tensor([3, 2])))
        ref = reference_hidden(sd, idx[:1, :4], n_heads=2)[0, 3] @ sd["emb_head.weight"].T
    torch.testing.assert_close(emb[0], ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="no token"):
        model(torch.tensor([[5, 6]]), eos_id=1)


def test_vocab_mismatch_with_tokenizer_raises(spec_ckpt):
    path, _ = spec_ckpt
    with pytest.raises(CheckpointError, match=rf"{VOCAB}.*{VOCAB + 2}"):
        load(path, expected_vocab_size=VOCAB + 2)
    assert load(path, expected_vocab_size=VOCAB).config.vocab_size == VOCAB


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (
            lambda sd: sd.pop("model.encode_layers.1.ff_up_proj.weight"),
            r"missing keys model\.encode_layers\.1\.ff_up_proj",
        ),
        (lambda sd: sd.pop("model.out_layer_norm.bias"), r"missing keys model\.out_layer_norm\.bias"),
        (
            lambda sd: sd.update({"model.encode_layers.0.extra.weight": torch.zeros(2)}),
            r"unexpected keys model\.encode_layers\.0\.extra",
        ),
        (
            lambda sd: sd.update({"lm_head.weight": torch.zeros(VOCAB + 1, D)}),
            r"lm_head\.weight: checkpoint \(41, 128\) vs model \(40, 128\)",
        ),
        (lambda sd: sd.update({"emb_head.weight": torch.zeros(4, D)}), r"exactly one of"),
        (lambda sd: sd.pop("model.tok_embeddings.weight"), r"missing key model\.tok_embeddings"),
    ],
)
def test_bad_checkpoints_raise_naming_the_key(tmp_path, edit, pattern):
    sd = spec_state_dict()
    edit(sd)
    save_file(sd, str(tmp_path / "bad.safetensors"))
    with pytest.raises(CheckpointError, match=pattern):
        load(tmp_path / "bad.safetensors")


def test_override_contradicting_shapes_raises(spec_ckpt):
    with pytest.raises(CheckpointError, match="d_model"):
        load(spec_ckpt[0], d_model=256)


def test_save_load_roundtrip_keeps_config_and_metadata(tmp_path):
    model = build(ModelConfig(d_model=64, n_heads=4, n_layers=2, vocab_size=30, max_seq_len=32))
    path = save(model, tmp_path / "m.safetensors", metadata={"tokenizer_hash": "abc", "step": 7})
    shapes, meta = read_header(path)
    assert meta["tokenizer_hash"] == "abc" and meta["step"] == "7"
    assert set(shapes) == set(model.state_dict())
    loaded = load(path)
    assert loaded.config == model.config  # n_heads 4 (not 64 // 64) and max_seq_len from metadata
    idx = torch.randint(0, 30, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(loaded(idx), model.eval()(idx))


def test_kv_cache_decode_equals_full_forward():
    torch.manual_seed(0)
    model = build(ModelConfig(d_model=64, n_heads=4, n_layers=2, vocab_size=50, max_seq_len=64)).eval()
    idx = torch.randint(0, 50, (3, 20))
    cache = model.new_kv_cache(3, 32)
    with torch.no_grad():
        full = model(idx)
        parts = [model(idx[:, :8], cache, 0), model(idx[:, 8:11], cache, 8)]  # prefill, chunk
        parts += [model(idx[:, i : i + 1], cache, i) for i in range(11, 20)]  # decode steps
        torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=0)
        last = model(idx[:, :5], model.new_kv_cache(3, 8), 0, last_only=True)
        torch.testing.assert_close(last[:, 0], full[:, 4], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 65, dtype=torch.long))


def test_left_padding_with_key_mask_matches_unpadded():
    torch.manual_seed(1)
    model = build(ModelConfig(d_model=64, n_heads=4, n_layers=2, vocab_size=50, max_seq_len=64)).eval()
    seq = torch.randint(1, 50, (1, 7))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), seq], 1)
    mask = torch.tensor([[False] * 3 + [True] * 7])
    with torch.no_grad():
        out = model(padded, key_mask=mask)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out[:, 3:], model(seq), atol=1e-4, rtol=0)  # RoPE is relative


def test_gradient_checkpointing_gives_same_gradients():
    cfg = ModelConfig(d_model=32, n_heads=2, n_layers=2, vocab_size=20, max_seq_len=16)
    torch.manual_seed(0)
    a = build(cfg)
    b = build(cfg.replace(grad_checkpoint=True))
    b.load_state_dict(a.state_dict())
    idx = torch.randint(0, 20, (2, 10))
    for m in (a, b):
        F.cross_entropy(m(idx[:, :-1]).flatten(0, 1), idx[:, 1:].flatten()).backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=n)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(d_model=100, n_heads=3, n_layers=1)
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_dict({"d_model": 64, "n_heads": 4, "n_layers": 1, "bogus": 1})


def test_mlx_package_imports_without_mlx(monkeypatch):
    for name in ("mlx", "mlx.core", "mlx.nn"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "pipeline.aria.mlx", raising=False)
    import pipeline.aria
    import pipeline.aria.mlx_backend as nmlx

    monkeypatch.delattr(pipeline.aria, "mlx", raising=False)  # a sibling test may have imported it
    with pytest.raises(nmlx.MLXUnavailableError, match="pip install"):
        nmlx.load("nowhere.safetensors")
