"""Codec loaders on tiny random checkpoints in the upstream layouts (no downloads)."""

from __future__ import annotations

import json

import pytest
import torch

from pipeline.codec import CodecCheckpointError, CodecConfig, CodecInputError, load, save
from pipeline.codec.model import Codec
from tests.unit.codec_fixtures import (
    audiocraft_state,
    audiocraft_to_hf_keys,
    hf_config,
    write_audiocraft_export,
    write_hf_dir,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def wave():
    return 0.3 * torch.randn(2, 1, 9723, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def state():
    return audiocraft_state()


def test_fixture_follows_the_spec_layout(state):
    # spec (ran): tiny audiocraft EnCodec nf 2, D 8 -> 116 keys, 198,092 values
    assert len(state) == 116 and sum(v.numel() for v in state.values()) == 198_092


def test_audiocraft_export_matches_transformers_reference(tmp_path, state, wave):
    from transformers import EncodecModel

    codec = load(write_audiocraft_export(tmp_path / "compression_32khz_new.bin", state=state))
    assert (codec.sample_rate, codec.n_q, codec.frame_rate, codec.cfg.pad_mode) == (32000, 4, 50.0, "constant")
    codes = codec.encode(wave)
    assert codes.shape == (2, 4, 16) and codes.dtype == torch.int64
    ref = EncodecModel(hf_config("constant")).eval()
    ref.load_state_dict(audiocraft_to_hf_keys(state), strict=True)
    with torch.no_grad():
        out = ref.encode(wave)
        ref_audio = ref.decode(out.audio_codes, [None])[0]
    assert torch.equal(out.audio_codes[0], codes)
    audio = codec.decode(codes)
    assert audio.shape == (2, 1, 16 * 640)  # decode is not trimmed: frames * hop
    assert torch.allclose(audio, ref_audio, atol=1e-6)
    lat = codec.latents(wave)
    assert lat.shape == (2, 16, 8)


def test_pad_mode_comes_from_the_checkpoint(tmp_path, state, wave):
    const = load(write_audiocraft_export(tmp_path / "a.bin", state=state))
    wrong = load(tmp_path / "a.bin", pad_mode="reflect")
    assert (const.encode(wave) != wrong.encode(wave)).any()
    refl = load(write_audiocraft_export(tmp_path / "b.bin", pad_mode="reflect", state=state))
    assert refl.cfg.pad_mode == "reflect" and torch.equal(refl.encode(wave), wrong.encode(wave))


@pytest.mark.parametrize("bin_format", [False, True])
def test_transformers_dir_matches_encodec_model(tmp_path, wave, bin_format):
    from transformers import EncodecModel

    torch.manual_seed(0)
    ref = EncodecModel(hf_config("reflect")).eval()
    with torch.no_grad():
        for layer in ref.quantizer.layers:
            layer.codebook.embed.normal_()
    d = write_hf_dir(tmp_path / "encodec_32khz", ref.state_dict(), "reflect", bin_format)
    codec = load(d)
    assert codec.cfg.pad_mode == "reflect" and codec.n_q == 4
    with torch.no_grad():
        ref_codes = ref.encode(wave).audio_codes[0]
    assert torch.equal(codec.encode(wave), ref_codes)


def test_own_dir_roundtrip(tmp_path, wave):
    torch.manual_seed(0)
    codec = Codec(CodecConfig.from_name("tiny"))
    codec.train()
    codec(0.1 * torch.randn(2, 1, 8000))  # k-means init of the codebooks
    codec.eval()
    save(codec, tmp_path / "ours", extra={"note": "x"})
    back = load(tmp_path / "ours", sample_rate=16000, n_q=4)
    x = 0.1 * torch.randn(1, 1, 4000)
    assert torch.equal(back.encode(x), codec.encode(x))
    assert json.loads((tmp_path / "ours/config.json").read_text())["note"] == "x"
    with pytest.raises(CodecCheckpointError, match="32000 Hz wanted"):
        load(tmp_path / "ours", sample_rate=32000)
    with pytest.raises(CodecCheckpointError, match="8 wanted"):
        load(tmp_path / "ours", n_q=8)


def test_strict_errors_name_missing_unexpected_misshaped(tmp_path, state):
    bad = dict(state)
    del bad["encoder.model.0.conv.conv.bias"]
    bad["encoder.model.99.conv.conv.weight_g"] = torch.zeros(1)
    bad["decoder.model.15.conv.conv.weight_v"] = torch.zeros(1, 2, 5)
    with pytest.raises(CodecCheckpointError) as e:
        load(write_audiocraft_export(tmp_path / "bad.bin", state=bad))
    msg = str(e.value)
    assert "1 missing: encoder.layers.0.conv.bias" in msg
    assert "unexpected: encoder.layers.99" in msg
    assert "mis-shaped: decoder.layers.15.conv.parametrizations.weight.original1" in msg


def test_other_codebook_count_is_named(tmp_path):
    # xp.cfg says 4 codebooks, the weights hold 2: the two missing stages are named
    state = audiocraft_state(n_q=2)
    with pytest.raises(CodecCheckpointError, match="missing: quantizer.layers.2._codebook"):
        load(write_audiocraft_export(tmp_path / "x.bin", state=state))


def test_bad_files_are_named(tmp_path):
    torch.save({"pretrained": "facebook/encodec_32khz", "exported": True}, tmp_path / "p.bin")
    with pytest.raises(CodecCheckpointError, match="download"):
        load(tmp_path / "p.bin")
    torch.save({"foo": 1}, tmp_path / "f.bin")
    with pytest.raises(CodecCheckpointError, match="xp.cfg"):
        load(tmp_path / "f.bin")
    (tmp_path / "d").mkdir()
    with pytest.raises(CodecCheckpointError, match="config.json"):
        load(tmp_path / "d")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope")


def test_encode_rejects_bad_shapes():
    codec = Codec(CodecConfig.from_name("tiny")).eval()
    with pytest.raises(CodecInputError):
        codec.encode(torch.zeros(1, 1600))
    with pytest.raises(CodecInputError):
        codec.decode(torch.full((1, 4, 3), 999))
