"""CLaMP scorer: M3 patches (spec notagen.md 6), feature extraction (7), estimators (8), loaders."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from clamp_tiny import TINY

from pipeline.clamp import CheckpointError, load
from pipeline.clamp.model import ClampConfig, ClampModel, M3Model
from pipeline.clamp.patches import PatchError, encode, extraction_segments, segments
from pipeline.clamp.scores import max_similarity, mean_cosine_score, piece_scores, set_mean_score

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

PIECE = """%Baroque
%Bach, Johann Sebastian
%Choral
X:1
L:1/8
M:4/4
K:G
V:1 nm="Soprano"
V:2 nm="Bass" clef=bass
[V:1]|:d2 fe dc|[V:2]|:G,,2 B,,2 D,2 G,2|
[V:1]B2 A2 G4|[V:2]G,2 D,2 G,,4|
[V:1]G8:|[V:2]G,,8:|
"""


def tiny_clamp(seed=0, **kw):
    torch.manual_seed(seed)
    return ClampModel(ClampConfig(**{**TINY, **kw}))


def save_upstream(model, path, **extra):
    """The six-key dict train_clamp2.py / train_m3.py write."""
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": {},
            "lr_sched": {},
            "epoch": 3,
            "best_epoch": 3,
            "min_eval_loss": 1.25,
            **extra,
        },
        path,
    )


# ----------------------------------------------------------------------------- patches
def test_patches_follow_the_m3_patchilizer():
    segs = segments(PIECE)
    assert "%Baroque\n" not in segs  # barline-free comment lines give no patch
    assert segs[0] == "X:1\n" and 'V:2 nm="Bass" clef=bass\n' in segs
    assert segs[segs.index("K:G\n") + 3 :][:4] == ["[V:1]|:", "d2 fe dc|", "[V:2]|:", "G,,2 B,,2 D,2 G,2|\n"]
    assert "[V:1]G8:|" in segs and segs[-1] == "[V:2]G,,8:|\n"
    assert segments("[V:1]abc|def\n") == ["[V:1]abc|\n"]  # text after the last barline is dropped
    with pytest.raises(PatchError, match="lone barline"):
        segments("|")
    ids = encode(PIECE, 64)
    assert ids.shape == (len(segs) + 2, 64)
    assert (ids[0] == 1).all() and ids[-1, 0] == 1 and (ids[-1, 1:] == 2).all()
    row = ids[1]
    assert list(row[:6]) == [1, ord("X"), ord(":"), ord("1"), 10, 2] and (row[6:] == 0).all()
    long = encode("X:" + "a" * 100 + "\n", 64)[1]
    assert long[0] == 1 and 2 not in long and long[-1] == ord("a")  # cut, no EOS id
    assert encode("T:Dvořák\n", 64)[1, 6] == ord("r")  # unidecode first


def test_extraction_windows_overlap_at_the_end_and_weigh_the_remainder():
    assert extraction_segments(10, 4) == ([(0, 4), (4, 8), (6, 10)], [4, 4, 2])
    assert extraction_segments(8, 4) == ([(0, 4), (4, 8)], [4, 4])
    assert extraction_segments(3, 4) == ([(0, 3)], [3])


# ----------------------------------------------------------------------------- features
def upstream_features(model: ClampModel, text: str, L: int) -> np.ndarray:
    """extract_clamp2.py, written the upstream way: one-hot Linear, window loop, weights."""
    lines = [ln for ln in text.splitlines(keepends=True) if not (ln.startswith("%") and not ln.startswith("%%"))]
    data = torch.from_numpy(encode("".join(lines), 64))
    segs = [data[i : i + L] for i in range(0, len(data), L)]
    segs[-1] = data[-L:]
    feats = []
    mm = model.music_model
    for s in segs:
        mask = torch.cat([torch.ones(len(s)), torch.zeros(L - len(s))]).long()[None]
        x = torch.cat([s, torch.zeros(L - len(s), 64, dtype=torch.long)])[None]
        oh = F.one_hot(x, num_classes=128).reshape(1, L, 64 * 128).float()
        h = mm.base(inputs_embeds=mm.patch_embedding(oh), attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        feats.append(model.music_proj((h * m).sum(1) / m.sum(1)))
    full, rem = divmod(len(data), L)
    w = torch.tensor([L] * full + ([rem] if rem else []), dtype=torch.float).view(-1, 1)
    return ((torch.cat(feats) * w).sum(0) / w.sum()).detach().numpy()


def test_features_equal_upstream_extraction_with_overlapping_windows(tmp_path):
    model = tiny_clamp(patch_length=6).eval()
    save_upstream(model, tmp_path / "c.pth")
    scorer = load(tmp_path / "c.pth")
    assert scorer.meta["kind"] == "clamp" and scorer.meta["epoch"] == 3
    n = len(encode(PIECE, 64))
    assert n > 6 and n % 6  # several windows, the last overlapping
    with torch.no_grad():
        want = upstream_features(model, PIECE, 6)
    got = scorer.music_features(PIECE)
    assert got.dtype == np.float32 and got.shape == (48,)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert abs(np.linalg.norm(got) - 1) > 1e-3  # not unit-normalised
    batch = scorer.music_features_batch([PIECE, PIECE.replace("d2 fe dc", "B2 AG FG")])
    np.testing.assert_allclose(batch[0], got, rtol=1e-5, atol=1e-6)
    assert not np.allclose(batch[0], batch[1])


def test_loaders_strict_on_upstream_layouts(tmp_path):
    sd = tiny_clamp().state_dict()
    assert len(sd) == 52 and sd["music_model.patch_embedding.weight"].shape == (64, 8192)
    assert sd["text_model.embeddings.position_embeddings.weight"].shape == (130, 32)
    old = dict(sd)
    old["music_model.base.embeddings.position_ids"] = torch.arange(64)[None]  # transformers < 4.31
    torch.save({"model": old, "epoch": 1, "min_eval_loss": 2.0}, tmp_path / "old.pth")
    assert load(tmp_path / "old.pth").model.has_text
    music_only = {k: v for k, v in sd.items() if not k.startswith("text_")}
    torch.save(music_only, tmp_path / "music.pth")
    assert not load(tmp_path / "music.pth").model.has_text
    torch.manual_seed(0)
    m3 = M3Model(ClampConfig(**{**TINY, "proj": None, "text_vocab": None, "decoder_layers": 1}))
    save_upstream(m3, tmp_path / "m3.pth")
    s3 = load(tmp_path / "m3.pth")
    assert s3.meta["kind"] == "m3" and s3.music_features(PIECE).shape == (64,)
    broken = dict(sd)
    del broken["music_proj.bias"]
    torch.save({"model": broken}, tmp_path / "broken.pth")
    with pytest.raises(CheckpointError, match="does not match"):
        load(tmp_path / "broken.pth")
    odd = dict(music_only)
    odd["music_model.patch_embedding.weight"] = torch.zeros(64, 1000)
    torch.save(odd, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="not a multiple of 128"):
        load(tmp_path / "odd.pth")
    torch.save({"model": {"foo.weight": torch.zeros(2)}}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a CLaMP 2 or M3 state dict"):
        load(tmp_path / "other.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="junk.pth"):
        load(tmp_path / "junk.pth")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load(tmp_path / "missing.pth")


# ----------------------------------------------------------------------------- estimators
def test_the_two_estimators_are_named_and_differ():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(6, 5)).astype(np.float32) + 1
    gen = rng.normal(size=(4, 5)).astype(np.float32) + 1
    mean = ref.mean(0)
    cos = [float(g @ mean / np.linalg.norm(g) / np.linalg.norm(mean)) for g in gen]
    assert mean_cosine_score(gen, ref) == pytest.approx(np.mean(cos), rel=1e-5)
    gm = gen.mean(0)
    assert set_mean_score(gen, ref) == pytest.approx(
        float(gm @ mean / np.linalg.norm(gm) / np.linalg.norm(mean)), rel=1e-5
    )
    assert mean_cosine_score(gen, ref) != pytest.approx(set_mean_score(gen, ref), rel=1e-4)
    assert mean_cosine_score(gen[:1], ref) == pytest.approx(set_mean_score(gen[:1], ref), rel=1e-5)
    np.testing.assert_allclose(piece_scores(gen, ref), cos, rtol=1e-5)
    assert max_similarity(ref[2:3] * 3, ref)[0] == pytest.approx(1.0, abs=1e-5)  # a scaled copy
    with pytest.raises(ValueError, match="feature sizes differ"):
        piece_scores(gen, ref[:, :3])


def test_plagiarism_threshold_is_upstreams_unless_real_pieces_reach_it():
    from pipeline.clamp.scores import plagiarism_threshold

    ref = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    apart = np.array([[1.0, 1.0, 0.2]], dtype=np.float32)  # held-out piece: cosine 0.70 to each
    t, stats = plagiarism_threshold(apart, ref, 0.95)
    assert t == 0.95 and stats["heldout_max"] == pytest.approx(0.7001, abs=1e-4)  # CLaMP 2-like: upstream's rule
    close = np.array([[1.0, 0.05, 0.0], [1.0, 1.0, 0.0]], dtype=np.float32)  # a weak scorer: 0.9988
    t, stats = plagiarism_threshold(close, ref, 0.95)
    assert t == pytest.approx(0.99875, abs=1e-5) and stats["heldout_pieces"] == 2
    assert max_similarity(ref[:1], ref)[0] > t  # an exact copy is still flagged
