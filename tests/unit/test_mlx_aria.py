"""MLX port of Aria: same checkpoint, same logits as torch (fp32, CPU), KV cache, generation."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

mx = pytest.importorskip("mlx.core")

from pipeline.aria import mlx_backend as nmlx  # noqa: E402
from pipeline.aria import model as torch_aria  # noqa: E402
from pipeline.aria.model import CheckpointError  # noqa: E402
from pipeline.sample import generate as torch_generate  # noqa: E402

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

VOCAB, D, LAYERS, EOS = 64, 128, 2, 1


def spec_state_dict(head="lm", seed=0):
    """A random checkpoint in the layout of specs/aria-checkpoint.md, built key by key."""
    g = torch.Generator().manual_seed(seed)
    w = lambda *s, k=0.05: torch.randn(*s, generator=g) * k  # noqa: E731
    sd = {"model.tok_embeddings.weight": w(VOCAB, D, k=1.0)}
    for i in range(LAYERS):
        p = f"model.encode_layers.{i}."
        sd |= {
            p + "mixed_qkv.weight": w(3 * D, D),
            p + "att_proj_linear.weight": w(D, D),
            p + "ff_gate_proj.weight": w(4 * D, D),
            p + "ff_up_proj.weight": w(4 * D, D),
            p + "ff_down_proj.weight": w(D, 4 * D),
        }
        for n in ("norm1", "norm2"):
            sd |= {p + n + ".weight": 1 + w(D, k=0.1), p + n + ".bias": w(D, k=0.1)}
    sd |= {"model.out_layer_norm.weight": 1 + w(D, k=0.1), "model.out_layer_norm.bias": w(D, k=0.1)}
    sd["lm_head.weight" if head == "lm" else "emb_head.weight"] = w(VOCAB if head == "lm" else 16, D)
    return sd


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("mlx") / "aria.safetensors"
    save_file(spec_state_dict(), str(path))
    return path


def test_mlx_logits_match_torch(ckpt):
    tm, mm = torch_aria.load(ckpt, max_seq_len=256), nmlx.load(ckpt, max_seq_len=256)
    idx = torch.randint(0, VOCAB, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = tm(idx).numpy()
    out = np.array(mm(mx.array(idx.numpy())))
    assert np.abs(out - ref).max() < 1e-4


def test_mlx_kv_cache_decode_matches_torch_full_forward(ckpt):
    tm, mm = torch_aria.load(ckpt, max_seq_len=256), nmlx.load(ckpt, max_seq_len=256)
    idx = torch.randint(0, VOCAB, (1, 30), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = tm(idx).numpy()
    ids = mx.array(idx.numpy())
    cache = mm.new_kv_cache(1, 64)
    parts = [np.array(mm(ids[:, :10], cache, 0)), np.array(mm(ids[:, 10:14], cache, 10))]
    parts += [np.array(mm(ids[:, i : i + 1], cache, i)) for i in range(14, 30)]
    assert np.abs(np.concatenate(parts, 1) - ref).max() < 1e-4


def test_mlx_embedding_matches_torch(tmp_path):
    save_file(spec_state_dict(head="emb"), str(tmp_path / "emb.safetensors"))
    tm, mm = torch_aria.load(tmp_path / "emb.safetensors"), nmlx.load(tmp_path / "emb.safetensors")
    idx = torch.tensor([[5, 6, 7, EOS, 9], [5, 8, EOS, 2, 2]])
    with torch.no_grad():
        ref = tm(idx, eos_id=EOS).numpy()
    assert np.abs(np.array(mm(idx.numpy(), eos_id=EOS)) - ref).max() < 1e-4


def test_mlx_load_is_strict(tmp_path):
    sd = spec_state_dict()
    sd.pop("model.encode_layers.0.norm2.bias")
    save_file(sd, str(tmp_path / "bad.safetensors"))
    with pytest.raises(CheckpointError, match=r"model\.encode_layers\.0\.norm2\.bias"):
        nmlx.load(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="vocabulary"):
        nmlx.load(tmp_path / "bad.safetensors", expected_vocab_size=VOCAB + 1)


def test_mlx_generation_respects_eos_and_matches_torch(tmp_path):
    # Constant hidden state (final norm weight 0): p(<E>) ~ 0.2 at every step, rows stop at random.
    sd = spec_state_dict()
    bias = torch.randn(D)
    sd["model.out_layer_norm.weight"] = torch.zeros(D)
    sd["model.out_layer_norm.bias"] = bias
    head = torch.zeros(VOCAB, D)
    head[EOS] = bias * 2.76 / bias.dot(bias)
    sd["lm_head.weight"] = head
    save_file(sd, str(tmp_path / "eos.safetensors"))
    tm, mm = torch_aria.load(tmp_path / "eos.safetensors"), nmlx.load(tmp_path / "eos.safetensors")
    prompts = [[3, 4, 5]] * 6 + [[7]]
    kw = dict(max_new_tokens=20, eos_id=EOS, temperature=1.0, seed=0)
    out = nmlx.generate(mm, prompts, **kw)
    assert out == torch_generate(tm, prompts, **kw)
    assert any(len(o) < len(p) + 20 for o, p in zip(out, prompts))
    for o, p in zip(out, prompts):
        new = o[len(p) :]
        assert o[: len(p)] == p and EOS not in new[:-1]
        assert new[-1] == EOS or len(new) == 20


# ----------------------------------------------------------------------------- embed pieces and ``ostinato embed``
def tiny_emb_checkpoint(path, tok):
    """A random d=32 embedding model over the real vocabulary (torch init), saved as the trainer does."""
    from pipeline.aria.model import ModelConfig, build, save

    torch.manual_seed(3)
    cfg = ModelConfig(d_model=32, n_heads=2, n_layers=2, vocab_size=tok.vocab_size, max_seq_len=512, emb_size=12)
    return save(build(cfg), path, metadata={"tokenizer_hash": tok.config_hash()})


def midi_file(path, n_notes, shift=0):
    from midi_fixtures import note, write

    return write(path, [[e for i in range(n_notes) for e in note(i * 150, i * 150 + 140, 40 + (i * 7 + shift) % 40)]])


def test_mlx_embed_pieces_match_torch_with_padding_and_chunk_means(tmp_path):
    from pipeline.aria.checkpoints import load_checked
    from pipeline.aria.embedding import embed_pieces
    from pipeline.aria.encoders import EmbEncoder
    from pipeline.aria.pieces import read_midi
    from pipeline.aria.tokenizer import AbsTokenizer

    tok = AbsTokenizer()
    ckpt = tiny_emb_checkpoint(tmp_path / "emb.safetensors", tok)
    pieces = [read_midi(midi_file(tmp_path / f"{n}.mid", n, n)) for n in (7, 95, 40)]
    # rows of different lengths share a batch (right-padded), and the 95-note piece has 3 chunks
    args = dict(chunk_notes=40, max_tokens=200, batch_tokens=4096)
    ref, ref_chunks = embed_pieces(EmbEncoder(load_checked(ckpt, tok, head="emb")), tok, pieces, **args)
    out, chunks = embed_pieces(nmlx.embedding_encoder(ckpt, expected_vocab_size=tok.vocab_size), tok, pieces, **args)
    assert chunks == ref_chunks == [1, 2, 1]  # a remainder under half a chunk joins no chunk
    assert out["contrastive"].shape == (3, 12) and out["contrastive"].dtype == np.float32
    assert np.abs(out["contrastive"] - ref["contrastive"]).max() < 1e-5
    assert np.abs(ref["contrastive"][0] - ref["contrastive"][1]).max() > 1e-3  # the pieces do differ


def test_embed_cli_mlx_backend_equals_torch(tmp_path, capsys):
    from pipeline.aria.tokenizer import AbsTokenizer
    from pipeline.cli import main

    ckpt = tiny_emb_checkpoint(tmp_path / "emb" / "model.safetensors", AbsTokenizer())
    files = [midi_file(tmp_path / "a.mid", 30), midi_file(tmp_path / "b.mid", 120, 5)]
    common = ["embed", *map(str, files), "--checkpoint", str(ckpt.parent), "--chunk-notes", "50"]
    assert main([*common, "--out", str(tmp_path / "torch.npy")]) == 0
    assert main([*common, "--backend", "mlx", "--out", str(tmp_path / "mlx.npy")]) == 0
    a, b = np.load(tmp_path / "torch.npy"), np.load(tmp_path / "mlx.npy")
    assert b.shape == (2, 12) and np.abs(a - b).max() < 1e-5
    capsys.readouterr()
    assert main([*common, "--backend", "mlx"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("b.mid\t[") and "chunks=2" in lines[1]
    assert f"norm={float(np.linalg.norm(b[1])):.4f}" in lines[1]
    assert main([*common, "--backend", "mlx", "--device", "cuda"]) == 2
    assert "--device cuda is a torch device" in capsys.readouterr().err
