"""GnM decoder/classifier: upstream layout, an independent reference forward, KV cache, loading."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
import torch.nn.functional as F

from pipeline.gnm.checkpoint import CheckpointError, VocabMismatchError, infer_config, load, save
from pipeline.gnm.model import GnmConfig, GnmDecoder, StyleClassifier
from pipeline.gnm.vocab import UnsafePickleError, Vocab

pytestmark = pytest.mark.unit


def tiny_vocab() -> Vocab:
    return Vocab.build(
        ["Composer_None", "Tempo_80", "Tempo_120", "BOS_None", "Bar_None", "Time_Signature_4/4", "EOS_None"]
        + [f"Beat_{g}" for g in range(48)]
    )


def tiny(vocab: Vocab, adapters=(1, 3, 5, 7, 9), layers=10) -> GnmDecoder:
    torch.manual_seed(0)
    return GnmDecoder(
        GnmConfig(
            len(vocab),
            d_model=32,
            n_heads=4,
            n_layers=layers,
            d_ff=64,
            d_word_embed=32,
            adapter_positions=adapters,
            max_seq_len=512,
        )
    ).eval()


def upstream_reference(model: GnmDecoder, ids: torch.Tensor) -> torch.Tensor:
    """Sequence-first forward written like upstream (nn.MultiheadAttention, manual adapters)."""
    sd, cfg = model.state_dict(), model.config
    d = cfg.d_model
    x = F.embedding(ids.T, sd["word_emb.emb_lookup.weight"]) * math.sqrt(d)  # (T, B, d)
    cond = x[0]
    t = x.shape[0]
    pos = torch.arange(t, dtype=torch.float)[:, None] * sd["decoder.pos_emb.inv_freq"][None]
    x = x + torch.cat([pos.sin(), pos.cos()], -1)[:, None, :]
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
    for i in range(cfg.n_layers):
        p = f"decoder.layers.{i}."
        mha = torch.nn.MultiheadAttention(d, cfg.n_heads, bias=False).eval()
        mha.in_proj_weight.data.copy_(sd[p + "self_attn.in_proj_weight"])
        mha.out_proj.weight.data.copy_(sd[p + "self_attn.out_proj.weight"])
        h = F.layer_norm(x, (d,), sd[p + "layernorm1.weight"], sd[p + "layernorm1.bias"])
        x = x + mha(h, h, h, attn_mask=mask, need_weights=False)[0]
        h = F.layer_norm(x, (d,), sd[p + "layernorm2.weight"], sd[p + "layernorm2.bias"])
        h = F.linear(
            F.relu(F.linear(h, sd[p + "ffn.0.weight"], sd[p + "ffn.0.bias"])),
            sd[p + "ffn.3.weight"],
            sd[p + "ffn.3.bias"],
        )
        x = x + h
        if i in cfg.adapter_positions:
            a = f"decoder.adapters.{i}."
            z = torch.cat([x, cond[None].expand_as(x)], -1)
            z = F.gelu(F.linear(z, sd[a + "linear1.weight"], sd[a + "linear1.bias"]))
            x = x + F.linear(z, sd[a + "linear2.weight"], sd[a + "linear2.bias"])
    return F.linear(x, sd["dec_out_proj.weight"], sd["dec_out_proj.bias"]).transpose(0, 1)


def test_state_dict_is_upstream_layout():
    vocab = tiny_vocab()
    m = GnmDecoder(
        GnmConfig(251, d_model=32, n_heads=4, n_layers=10, d_ff=64, d_word_embed=32, adapter_positions=(1, 3, 5, 7, 9))
    )
    keys = list(m.state_dict())
    assert keys[0] == "word_emb.emb_lookup.weight" and keys[-1] == "dec_out_proj.bias"
    assert len(keys) == 124 and sum(p.numel() for p in m.parameters()) + 16 == 131_691
    assert keys.index("decoder.pos_emb.inv_freq") < keys.index("decoder.adapters.1.linear1.weight")
    plain = GnmDecoder(GnmConfig(251, d_model=32, n_heads=4, n_layers=10, d_ff=64, d_word_embed=32))
    assert len(plain.state_dict()) == 104
    with pytest.raises(ValueError, match="adapter positions"):
        GnmConfig.from_name("tiny", vocab_size=len(vocab), adapter_positions=(5,))  # 4 layers


def test_forward_matches_independent_reference():
    vocab = tiny_vocab()
    m = tiny(vocab)
    for p in m.decoder.adapters.parameters():  # make the adapters matter
        torch.nn.init.normal_(p, 0, 0.3)
    ids = torch.randint(0, len(vocab) - 1, (2, 17))
    with torch.no_grad():
        assert torch.allclose(m(ids), upstream_reference(m, ids), atol=1e-4)


def test_kv_cache_matches_full_forward():
    vocab = tiny_vocab()
    m = tiny(vocab)
    ids = torch.randint(0, len(vocab) - 1, (3, 12))
    with torch.no_grad():
        full = m(ids)
        cache = m.new_kv_cache(3, 32)
        parts = [m(ids[:, :5], cache, 0), m(ids[:, 5:9], cache, 5)]
        parts += [m(ids[:, k : k + 1], cache, k) for k in range(9, 12)]
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


def test_save_load_roundtrip_and_upstream_pt(tmp_path):
    vocab = tiny_vocab()
    m = tiny(vocab)
    save(m, tmp_path / "ours", vocab)
    again = load(tmp_path / "ours")
    ids = torch.randint(0, len(vocab) - 1, (1, 9))
    assert torch.equal(again(ids), m(ids))
    # upstream files: a bare state dict + dictionary.pkl (event2word, word2event) without PAD
    torch.save(m.state_dict(), tmp_path / "ep120_loss0.672_params.pt")
    words = vocab.tokens[:-1]
    with open(tmp_path / "dictionary.pkl", "wb") as fh:
        pickle.dump(({w: i for i, w in enumerate(words)}, dict(enumerate(words))), fh)
    up = load(tmp_path / "ep120_loss0.672_params.pt", vocab=tmp_path / "dictionary.pkl", n_heads=4)
    assert up.config.adapter_positions == (1, 3, 5, 7, 9) and up.config.n_layers == 10
    assert torch.equal(up(ids), m(ids))
    assert Vocab.load(tmp_path / "dictionary.pkl").sha256() == vocab.sha256()


def test_bad_checkpoints_are_named_errors(tmp_path):
    vocab = tiny_vocab()
    m = tiny(vocab, adapters=(), layers=2)
    torch.save(m.state_dict(), tmp_path / "m.pt")
    small = Vocab(vocab.tokens[:-3])
    small.save(tmp_path / "small")
    with pytest.raises(VocabMismatchError, match="not made together"):
        load(tmp_path / "m.pt", vocab=tmp_path / "small" / "dictionary.pkl")
    with pytest.raises(CheckpointError, match="needs vocab"):
        load(tmp_path / "m.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(({"a": 0}, Evil())))
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        Vocab.load(tmp_path / "evil.pkl")
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="plain state dict"):
        load(tmp_path / "evil.pt", vocab=vocab)


def test_classifier_layout_padding_and_upstream_file(tmp_path):
    vocab = tiny_vocab()
    c = StyleClassifier(len(vocab), 4, d_model=32, n_heads=4, n_layers=6, d_ff=64).eval()
    sd = c.state_dict()
    assert len(sd) == 64 and list(sd)[-2:] == ["cls_head.weight", "cls_head.bias"]
    assert sum(p.numel() for p in c.parameters()) + 16 == 58_676 - 32 * (251 - len(vocab))
    assert infer_config(sd)["kind"] == "classifier"
    ids = torch.randint(0, len(vocab) - 1, (1, 6))
    padded = torch.cat([ids, torch.full((1, 4), vocab.pad_id)], 1)
    with torch.no_grad():
        assert torch.allclose(c(ids), c(padded), atol=1e-5)
    torch.save(sd, tmp_path / "ep014_loss0.462_params.pt")  # upstream: a bare state dict
    vocab.save(tmp_path)
    up = load(tmp_path / "ep014_loss0.462_params.pt", vocab=tmp_path / "dictionary.pkl", n_heads=4)
    assert isinstance(up, StyleClassifier) and up.cls_head.out_features == 4
    with torch.no_grad():
        assert torch.equal(up(ids), c(ids))
