"""The MIDI-VALLE table builder: rows per system, FAD vs truth and vs codec, intervals."""

import json

import numpy as np
import pytest

from pipeline.valle.evaluate import SYSTEM_NAMES, distances, embed_all, fad_table, headline_rows

pytestmark = pytest.mark.unit


def test_table_rows_columns_and_ordering():
    sr = 8000
    t = np.arange(sr) / sr
    rng = np.random.default_rng(0)

    def tone(f, noise):
        return (0.3 * np.sin(2 * np.pi * f * t) + noise * rng.normal(size=sr)).astype(np.float32)

    waves = {
        "truth": [tone(440, 0.01), tone(330, 0.01)],
        "codec": [tone(440, 0.02), tone(330, 0.02)],
        "baseline": [tone(440, 0.01), tone(330, 0.01)],
        "valle": [tone(600, 0.2), tone(700, 0.2)],
    }

    def frames(w):  # a cheap 4-d "embedding": framewise mean, std, energy, zero crossings
        f = w[: len(w) // 80 * 80].reshape(-1, 80)
        return np.stack([f.mean(1), f.std(1), (f**2).sum(1), (np.diff(np.sign(f), axis=1) != 0).mean(1)], 1)

    emb = embed_all(waves, {"toy": frames})
    fads = fad_table(emb, n_boot=20, steps=4, min_n=20, seed=0)
    assert fads["toy"]["codec"]["vs_codec"] is None and fads["toy"]["valle"]["vs_codec"] is not None
    assert fads["toy"]["valle"]["vs_truth"]["value"] > fads["toy"]["baseline"]["vs_truth"]["value"]
    dist = distances(waves, sr, n_boot=20, seed=0)
    truth, codec = dist["baseline"]["vs_truth"], dist["valle"]["vs_codec"]
    assert truth["chroma"]["value"] < dist["valle"]["vs_truth"]["chroma"]["value"]
    assert truth["spectrogram"]["value"] < dist["valle"]["vs_truth"]["spectrogram"]["value"]
    assert codec["spectrogram"]["value"] > dist["baseline"]["vs_codec"]["spectrogram"]["value"]
    assert dist["codec"]["vs_codec"] is None and dist["codec"]["vs_truth"]["spectrogram_mel01"] is not None
    assert dist["valle"]["skipped"] == {"vs_truth": 0, "vs_codec": 0}
    cols, rows = headline_rows(fads, dist)
    assert cols[:4] == ["system", "FAD toy vs truth", "FAD toy vs codec", "FAD-inf toy"]
    assert cols[-5:-3] == ["chroma distance vs truth", "chroma distance vs codec"]
    codec_row = rows[list(SYSTEM_NAMES).index("codec")]
    assert codec_row[cols.index("spectrogram distance vs codec")] is None
    assert [r[0] for r in rows] == list(SYSTEM_NAMES.values()) and all(len(r) == len(cols) for r in rows)
    lo, hi = rows[0][1]["ci95"]
    assert lo <= rows[0][1]["value"] <= hi + 1e-9


def test_report_names_the_weights_it_used(tmp_path):
    """The table's text names each model's released file and its hash (summary.json ``weights``, from
    the model dirs' manifests), or says the model was trained here."""
    from pipeline.orchestration.model_origin import model_origin
    from pipeline.valle.eval_report import weights_text

    codec_dir, valle_dir = tmp_path / "models/codec_train", tmp_path / "models/valle_train"
    for d, manifest in (
        (codec_dir, {"init": {"path": "weights/codec_train/c.bin", "hash": "ab12"}, "metrics": {"steps": 0}}),
        (valle_dir, {"metrics": {"steps": 4}}),
    ):
        d.mkdir(parents=True)
        (d / "manifest.json").write_text(json.dumps(manifest))
    weights = {"codec": model_origin(codec_dir), "valle": model_origin(valle_dir)}
    assert weights["codec"] == {
        "model": "models/codec_train",
        "init": {"path": "weights/codec_train/c.bin", "hash": "ab12"},
        "steps": 0,
    }
    assert weights_text(weights) == (
        "Weights used: codec: weights/codec_train/c.bin (hash ab12, imported unchanged); "
        "VALL-E: models/valle_train (trained here from scratch, 4 steps)."
    )
