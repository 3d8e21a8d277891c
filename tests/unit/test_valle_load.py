"""VALL-E checkpoints: ours (safetensors) and MIDI-VALLE's trainer / flat files, strict and named."""

import pathlib
import pickle
from types import SimpleNamespace

import pytest
import torch

from pipeline.valle import load
from pipeline.valle.checkpoint import CheckpointError, CodecMismatch, check_codec, save_valle
from pipeline.valle.model import Valle, ValleConfig

pytestmark = pytest.mark.unit

# Upstream's tiny test model from the spec: d 32, 2 heads, 2 layers -> 88 state-dict entries.
TINY = ValleConfig(d_model=32, nhead=2, n_layers=2, n_quantizers=4, audio_bins=2048)


def _upstream_state(cfg=TINY, seed=0):
    torch.manual_seed(seed)
    return Valle(cfg).state_dict()


def test_upstream_key_layout_matches_spec():
    state = _upstream_state()
    assert len(state) == 88
    unique = {id(v.untyped_storage()): v.numel() for v in state.values()}
    assert sum(unique.values()) == 980_676
    assert state["feat_emb.2.word_embeddings.weight"].shape == (1156, 256)
    assert state["feat_emb.5.word_embeddings.weight"].shape == (20, 32)
    assert state["ar_text_embedding.weight"].shape == (32, 544)
    assert state["ar_predict_layer.weight"].shape == (2049, 32)
    assert state["nar_decoder.layers.1.norm2.project_layer.weight"].shape == (64, 32)
    assert state["nar_stage_embeddings.2.word_embeddings.weight"].shape == (1, 32)
    # share_embedding: predict layers 0/1 are audio embeddings 2/3; layer 2 is its own
    assert (
        state["nar_predict_layers.0.weight"].data_ptr()
        == state["nar_audio_embeddings.2.word_embeddings.weight"].data_ptr()
    )
    assert (
        state["nar_predict_layers.2.weight"].data_ptr()
        != state["nar_audio_embeddings.1.word_embeddings.weight"].data_ptr()
    )


def _trainer_file(tmp_path, state, **extra):
    ckpt = {
        "model": {f"module.{k}": v for k, v in state.items()},
        "optimizer": None,
        "scheduler": None,
        "grad_scaler": None,
        "sampler": None,
        "best_valid_loss": 3.2,
        "exp_dir": pathlib.PosixPath("exp/valle"),
        "manifest_dir": pathlib.PosixPath("data/tok"),
        "nhead": 2,
        "decoder_dim": 32,
        "env_info": {"k2-version": "1.24"},
        **extra,
    }
    path = tmp_path / "best-valid-loss.pt"
    torch.save(ckpt, path)
    return path


def test_trainer_checkpoint_with_posixpath_loads_weights_only(tmp_path):
    state = _upstream_state()
    path = _trainer_file(tmp_path, state)
    with pytest.raises(pickle.UnpicklingError):  # plain weights_only refuses the PosixPath values
        torch.load(path, weights_only=True)
    model = load(path)
    assert model.cfg == TINY and not model.training
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, state[k])
    assert model.codec_info["sample_rate"] == 32000


def test_flat_inference_state_dict_and_ours_round_trip(tmp_path):
    state = _upstream_state(seed=1)
    flat = tmp_path / "valle_flat.pt"
    torch.save(state, flat)
    model = load(flat, nhead=2)
    ours = save_valle(model, tmp_path / "m.safetensors", codec={"sample_rate": 32000, "frame_rate": 50})
    again = load(ours)
    assert again.cfg == model.cfg
    midi = torch.tensor([[[1] * 6, [43, 44, 99, 388, 4, 4], [2] * 6]])
    codes = torch.randint(0, 2048, (1, 8, 4))
    lens = (torch.tensor([3]), torch.tensor([8]))
    a = model.ar_forward(midi, lens[0], codes, lens[1])[0]
    b = again.ar_forward(midi, lens[0], codes, lens[1])[0]
    torch.testing.assert_close(a, b)


def test_strict_errors_name_missing_unexpected_and_misshaped_keys(tmp_path):
    state = dict(_upstream_state())
    del state["ar_decoder.norm.bias"]
    state["ar_decoder.extra"] = torch.zeros(1)
    state["ar_predict_layer.weight"] = torch.zeros(2048, 32)
    path = tmp_path / "flat.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as err:
        load(path, nhead=2)
    msg = str(err.value)
    assert "missing (1): ['ar_decoder.norm.bias']" in msg
    assert "unexpected (1): ['ar_decoder.extra']" in msg
    assert "ar_predict_layer.weight (2048, 32) != (2049, 32)" in msg


def test_other_pickled_classes_are_refused_not_unpickled(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": _upstream_state(), "when": pathlib.PurePosixPath("x"), "obj": SimpleNamespace(a=1)}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load(path)


def test_codec_mismatch_is_named():
    model = Valle(TINY)
    model.codec_info = {"sample_rate": 32000, "frame_rate": 50}
    check_codec(model, SimpleNamespace(n_q=4, sample_rate=32000, frame_rate=50))
    with pytest.raises(CodecMismatch, match="8 codebooks"):
        check_codec(model, SimpleNamespace(n_q=8, sample_rate=32000, frame_rate=50))
    with pytest.raises(CodecMismatch, match="sample_rate 24000"):
        check_codec(model, SimpleNamespace(n_q=4, sample_rate=24000, frame_rate=50))
