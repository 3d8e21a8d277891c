"""Contrastive objective (symmetric InfoNCE), pair batches, trunk copy, and ``ostinato embed``."""

import math

import numpy as np
import pytest
import torch

from pipeline.aria.chunks import chunk_ids
from pipeline.aria.embedding import embed_pieces
from pipeline.aria.encoders import EmbEncoder, TrunkEncoder
from pipeline.aria.model import ModelConfig, TransformerEMB, build, save
from pipeline.aria.pairs import PairBatches
from pipeline.aria.tokenizer import AbsTokenizer, Note, Piece
from pipeline.cli import main
from pipeline.train.contrastive import ContrastiveObjective, info_nce

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TOK = AbsTokenizer()


def tiny(emb_size=None, seed=0):
    torch.manual_seed(seed)
    return build(
        ModelConfig(d_model=32, n_heads=2, n_layers=1, vocab_size=TOK.vocab_size, max_seq_len=256, emb_size=emb_size)
    )


def piece(n, base=48, step=120, seed=0):
    rng = np.random.default_rng(seed)
    return Piece([Note(i * step, i * step + 100, int(base + rng.integers(0, 24)), 80, "piano", 0) for i in range(n)])


def test_info_nce_matches_a_hand_computed_2x2_example():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # cos: [[1, 1/sqrt2], [0, 1/sqrt2]]
    r = 1 / math.sqrt(2)
    row = (-math.log(math.e / (math.e + math.exp(r))) - math.log(math.exp(r) / (1 + math.exp(r)))) / 2
    col = (-math.log(math.e / (math.e + 1)) + math.log(2)) / 2
    loss, stats = info_nce(a, b, temperature=1.0)
    assert float(loss) == pytest.approx((row + col) / 2, abs=1e-6)
    assert stats["pos_cos"] == pytest.approx((1 + r) / 2, abs=1e-6)
    # temperature divides the similarities: at tau=0.5 the logits double
    loss_half, _ = info_nce(a, b, temperature=0.5)
    assert float(loss_half) == pytest.approx(info_nce_ref(a, b, 0.5), abs=1e-6) and float(loss_half) < float(loss)


def info_nce_ref(a, b, t):
    sim = torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T / t
    y = torch.arange(len(a))
    return float(torch.nn.functional.cross_entropy(sim, y) + torch.nn.functional.cross_entropy(sim.T, y)) / 2


def test_info_nce_is_symmetric_and_scale_invariant():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    assert float(info_nce(a, b, 0.1)[0]) == pytest.approx(float(info_nce(b, a, 0.1)[0]), rel=1e-6)
    assert float(info_nce(3 * a, b, 0.1)[0]) == pytest.approx(float(info_nce(a, b, 0.1)[0]), rel=1e-5)
    assert float(info_nce(a, b, 0.1)[0]) == pytest.approx(info_nce_ref(a, b, 0.1), rel=1e-6)


def test_perfect_embeddings_reach_the_minimum_and_random_ones_sit_near_log_b():
    e = torch.eye(8)
    loss, stats = info_nce(e, e.clone(), temperature=0.1)
    assert float(loss) == pytest.approx(math.log(1 + 7 * math.exp(-10)), rel=1e-3) and float(loss) < 1e-3
    assert stats["pair_acc"] == 1.0 and stats["pos_cos"] == pytest.approx(1.0)
    swapped, _ = info_nce(e, e.flip(0), temperature=0.1)
    assert float(swapped) > 9  # every partner is the least similar
    g = torch.Generator().manual_seed(1)
    rand, _ = info_nce(torch.randn(64, 256, generator=g), torch.randn(64, 256, generator=g), temperature=1.0)
    assert float(rand) == pytest.approx(math.log(64), rel=0.05)


def test_pair_batches_are_seeded_views_ending_in_eos():
    pieces = [piece(80, seed=i) for i in range(5)]
    pb = PairBatches(pieces, TOK, 4, (10, 30), max_tokens=64, seed=3)
    b = pb.batch(0)
    assert b.shape[:2] == (2, 4) and b.dtype == torch.long and b.shape[2] <= 64
    assert torch.equal(b, pb.batch(0)) and not torch.equal(b, pb.batch(1))
    eos = TOK.eos_id
    for row in b.flatten(0, 1):
        ids = row.tolist()
        assert ids.count(eos) == 1 and ids.index(eos) == len(ids) - ids[::-1].index(eos) - 1
        assert all(i == TOK.pad_id for i in ids[ids.index(eos) + 1 :])
    assert not torch.equal(b[0], b[1])  # two different slices per piece
    val = list(PairBatches(pieces, TOK, 2, (10, 30), 64, seed=3).once())
    assert [v.shape[1] for v in val] == [2, 3]  # a last batch of one piece is folded into the previous
    assert all(torch.equal(x, y) for x, y in zip(val, PairBatches(pieces, TOK, 2, (10, 30), 64, seed=3).once()))
    aug = PairBatches(pieces, TOK, 4, (10, 30), 64, seed=3, augment=True).batch(0)
    assert aug.shape[:2] == (2, 4)
    with pytest.raises(ValueError, match="at least 2 pieces"):
        PairBatches(pieces[:1], TOK, 4, (10, 30), 64)


def test_objective_plugs_into_the_loop_and_learns(tmp_path):
    from pipeline.train.loop import TrainConfig, train

    pieces = [piece(60, base=30 + 6 * i, seed=i) for i in range(6)]
    model = tiny(emb_size=16)
    obj = ContrastiveObjective(TOK.eos_id, TOK.pad_id, temperature=0.1)
    batches = PairBatches(pieces, TOK, 6, (8, 16), max_tokens=64, seed=0)
    with torch.no_grad():
        before = float(obj(model.eval(), batches.batch(0)).loss)
    cfg = TrainConfig(
        steps=30, lr=3e-3, warmup_steps=2, eval_every=10, checkpoint_every=30, progress=False, device="cpu"
    )
    result = train(model, obj, batches, cfg, tmp_path / "ckpt", val=PairBatches(pieces, TOK, 6, (8, 16), 64, seed=0))
    assert [h["step"] for h in result.history] == [10, 20, 30]
    with torch.no_grad():
        after = float(obj(result.model.eval(), batches.batch(0)).loss)
    assert after < before and result.val_loss is not None and math.isfinite(result.val_loss)


def test_trunk_is_copied_from_the_lm_and_the_emb_head_is_new(tmp_path):
    from pipeline.aria.contrastive import init_from_lm

    lm = tiny()
    path = save(lm, tmp_path / "lm.safetensors", metadata={"tokenizer_hash": TOK.config_hash()})
    emb = init_from_lm(path, 24, TOK, seed=0)
    assert isinstance(emb, TransformerEMB) and emb.emb_head.weight.shape == (24, 32)
    for k, v in lm.state_dict().items():
        if k.startswith("model."):
            assert torch.equal(emb.state_dict()[k], v), k


def test_global_embedding_averages_chunks_and_trunk_states_ignore_padding():
    model = tiny(emb_size=8)
    p = piece(48)
    emb, chunks = embed_pieces(EmbEncoder(model), TOK, [p, piece(10)], chunk_notes=20, max_tokens=200)
    assert emb["contrastive"].shape == (2, 8) and chunks == [2, 1]  # 8-note remainder < 20/2: dropped
    from pipeline.aria.chunks import note_chunks

    rows = [chunk_ids(TOK, c, 200) for c in note_chunks(p, 20)]
    one = [model(torch.tensor([r]), eos_id=TOK.eos_id)[0].detach().numpy() for r in rows]
    assert np.allclose(emb["contrastive"][0], np.mean(one, axis=0), atol=1e-5)
    lm = tiny()
    short, long = chunk_ids(TOK, piece(5), 200), chunk_ids(TOK, piece(30), 200)
    from pipeline.aria.encoders import encode_rows

    both = encode_rows(TrunkEncoder(lm), [short, long], TOK.pad_id, TOK.eos_id)
    alone = encode_rows(TrunkEncoder(lm), [short], TOK.pad_id, TOK.eos_id)
    for name in ("frozen_mean", "frozen_last"):
        assert np.allclose(both[name][0], alone[name][0], atol=1e-5)


# ----------------------------------------------------------------------------- CLI
def midi(path, n_notes=40):
    from midi_fixtures import note, write

    return write(path, [[e for i in range(n_notes) for e in note(i * 200, i * 200 + 180, 50 + (i * 5) % 30)]])


def cli(capsys, *argv):
    code = main(["embed", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_embed_cli_prints_and_saves_embeddings(tmp_path, capsys):
    ckpt = save(
        tiny(emb_size=8), tmp_path / "emb" / "model.safetensors", metadata={"tokenizer_hash": TOK.config_hash()}
    )
    a, b = midi(tmp_path / "a.mid"), midi(tmp_path / "b.mid", 700)
    code, out = cli(capsys, a, b, "--checkpoint", ckpt.parent, "--chunk-notes", 300)
    assert code == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("a.mid\t[") and "norm=" in lines[0] and "chunks=2" in lines[1]
    code, out = cli(capsys, a, b, "--checkpoint", ckpt, "--out", tmp_path / "x.npy")
    x = np.load(tmp_path / "x.npy")
    assert code == 0 and x.shape == (2, 8) and np.isfinite(x).all()
    assert f"{float(np.linalg.norm(x[0])):.4f}" in cli(capsys, a, "--checkpoint", ckpt)[1]


def test_embed_cli_errors_are_named(tmp_path, capsys):
    emb = save(tiny(emb_size=8), tmp_path / "emb.safetensors")
    lm = save(tiny(), tmp_path / "lm.safetensors")
    good = midi(tmp_path / "good.mid")
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd not really a MIDI file")
    code, out = cli(capsys, good, bad, "--checkpoint", emb)
    assert code == 2 and "corrupt" in out and "bad.mid" in out
    code, out = cli(capsys, good, "--checkpoint", lm)
    assert code == 2 and "no emb_head.weight" in out and "language model" in out
    code, out = cli(capsys, good, "--checkpoint", tmp_path / "missing")
    assert code == 2 and "checkpoint not found" in out
    silent = midi(tmp_path / "silent.mid", 0)
    code, out = cli(capsys, silent, "--checkpoint", emb)
    assert code == 2 and "no notes" in out


def test_embed_cli_mlx_backend_without_mlx_is_one_line(tmp_path, capsys, monkeypatch):
    import sys

    import pipeline.aria

    ckpt = save(tiny(emb_size=8), tmp_path / "emb.safetensors", metadata={"tokenizer_hash": TOK.config_hash()})
    for name in ("mlx", "mlx.core", "mlx.nn"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "pipeline.aria.mlx", raising=False)
    monkeypatch.delattr(pipeline.aria, "mlx", raising=False)  # a sibling test may have imported it
    code, out = cli(capsys, midi(tmp_path / "a.mid"), "--checkpoint", ckpt, "--backend", "mlx")
    assert code == 2 and out.count("\n") == 1
    assert out.startswith("ostinato embed: error: --backend mlx: the MLX backend needs mlx") and "pip install" in out
