"""The ``clamp`` embedder of aria_embed: CLaMP 2 features of each piece's MIDI as MTF, the same
vector upstream's extraction gives for that file, written like every other embedder but with no
retrieval views, so the probe reads it beside the others."""

import json

import numpy as np
import pytest
import torch
from midi_fixtures import multi_instrument, sustain_pedal, tempo_changes
from test_clamp import TINY, save_upstream

from pipeline.aria.embed import write_embedding
from pipeline.aria.embed_clamp import embed_clamp
from pipeline.clamp.midi_text import mtf
from pipeline.clamp.model import ClampConfig, ClampModel
from pipeline.clamp.scorer import load
from pipeline.eval.probe_report import embedder_dirs, load_embedder
from pipeline.params.aria import AriaEmbedParams

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]


def test_clamp_features_of_each_midi_and_no_retrieval_views(tmp_path):
    torch.manual_seed(0)
    save_upstream(ClampModel(ClampConfig(**TINY)), tmp_path / "clamp2.pth")
    midis = [f(tmp_path) for f in (multi_instrument, sustain_pedal, tempo_changes)]
    (x, ret, counts) = embed_clamp.fn(midis, tmp_path / "clamp2.pth")["clamp"]
    scorer = load(tmp_path / "clamp2.pth")
    assert x.shape == (3, scorer.dim) and ret.shape == (0, 2, scorer.dim) and counts is None
    for row, midi in zip(x, midis):
        np.testing.assert_array_equal(row, scorer.music_features(mtf(midi)))
    assert not np.allclose(x[0], x[1])  # different pieces, different features

    index = [{"id": f"p{i}", "split": "test", "labels": {"composer": "c"}} for i in range(3)]
    write_embedding(tmp_path / "embed/clamp", x, ret, counts, index, [])
    assert (tmp_path / "embed/clamp/retrieval.jsonl").read_text() == ""
    got, rows = load_embedder(embedder_dirs(tmp_path / "embed")["clamp"])
    assert got.shape == x.shape and [r["id"] for r in rows] == ["p0", "p1", "p2"]
    assert json.loads(json.dumps(rows[0]))["labels"] == {"composer": "c"}


def test_clamp_is_an_embedder_choice_not_a_default():
    assert "clamp" not in AriaEmbedParams().embedders
    p = AriaEmbedParams(embedders=["clamp", "handcrafted"], clamp="weights/aria_embed/clamp2.pth")
    assert p.embedders == ["clamp", "handcrafted"]
    with pytest.raises(ValueError, match="embedders lists clamp but clamp is unset"):
        AriaEmbedParams(embedders=["clamp"])
    with pytest.raises(ValueError, match="embedders"):
        AriaEmbedParams(embedders=["m4"])


def test_a_released_file_is_named_as_read_not_imported(tmp_path):
    from pipeline.aria.embed import model_weights
    from pipeline.aria.probe import weights_line
    from pipeline.orchestration.stage import hash_path

    f = tmp_path / "weights/aria_embed/clamp2.pth"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"released")
    w = model_weights(f)
    assert w == {
        "model": "weights/aria_embed/clamp2.pth",
        "init": {"path": w["model"], "hash": hash_path(f)},
        "steps": 0,
    }
    line = weights_line({"clamp": w, "handcrafted": None})
    clamp = f"clamp: `weights/aria_embed/clamp2.pth`, read as released (hash {hash_path(f)})"
    assert line == f"Weights: {clamp}; handcrafted: features, no weights."
