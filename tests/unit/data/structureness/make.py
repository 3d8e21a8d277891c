"""Remake ``upstream.json``: MusDr's own SSM, fitness scape plot and SI code on the clips here.

Run from the repository root with the project venv (librosa 0.11, numpy, scipy; MusDr pins none)
and a checkout of slSeanWU/MusDr::

    python tests/unit/data/structureness/make.py /path/to/MusDr

MusDr's ``compute_SM_from_filename`` calls ``librosa.load(path, 22050)``, which librosa >= 0.10
only accepts as ``sr=22050``: the one shim below passes it on as a keyword. The rest is upstream's
``run_python_scapeplot.py`` (SSM with its parameters, ``normalization_properties_SSM``,
``compute_fitness_scape_plot``) and ``run_all_metrics.py``'s SI bounds (3, 8, 15 s), unchanged.
The clips are remade from a fixed seed when missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SR = 4000


def tune(pitches, beat=0.25):
    t = np.arange(int(beat * SR)) / SR
    env = np.exp(-t * 6)
    return np.concatenate(
        [env * sum(np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * h * t) / h for h in (1, 2, 3)) for p in pitches]
    )


def clips() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    a = list(rng.choice([60, 62, 64, 65, 67, 69, 71, 72], 32))
    b = list(rng.choice([57, 59, 60, 62, 64, 65], 32))
    return {
        "aabaa": 0.3 * tune(a + a + b + a + a) / 3,  # 40 s: an 8 s phrase, four times
        "random": 0.3 * tune(list(rng.integers(48, 84, 40))) / 3,  # 10 s, no repetition
    }


def main(musdr: Path) -> None:
    import librosa

    load = librosa.load
    librosa.load = lambda path, sr=22050, **k: load(path, sr=sr, **k)  # the positional-sr shim
    sys.path[:0] = [str(musdr), str(musdr / "musdr")]
    from eval_metrics import compute_structure_indicator
    from mueller_audio_tools.scapeplot import compute_fitness_scape_plot, normalization_properties_SSM
    from mueller_audio_tools.ssm_features import compute_SM_from_filename, compute_tempo_rel_set

    out = {"upstream": "slSeanWU/MusDr run_python_scapeplot.py + eval_metrics.compute_structure_indicator"}
    for name, wave in clips().items():
        path = HERE / f"{name}.flac"
        if not path.exists():
            sf.write(path, wave.astype(np.float32), SR, subtype="PCM_16")
        s = compute_SM_from_filename(
            str(path), tempo_rel_set=compute_tempo_rel_set(0.5, 2, 7), shift_set=np.arange(12), thresh=0.25, penalty=-2
        )[4]
        s = normalization_properties_SSM(s)
        plot = compute_fitness_scape_plot(s)[0]
        np.save("/tmp/scplot.npy", plot)
        out[name] = {
            "frames": int(s.shape[0]),
            "ssm_sum": float(s.sum()),
            "ssm_row0": [float(v) for v in s[0]],
            "fitness_sum": float(plot.sum()),
            "si": {
                "short": float(compute_structure_indicator("/tmp/scplot.npy", 3, 8)),
                "mid": float(compute_structure_indicator("/tmp/scplot.npy", 8, 15)),
                "long": float(compute_structure_indicator("/tmp/scplot.npy", 15)),
            },
        }
    (HERE / "upstream.json").write_text(json.dumps(out, indent=1) + "\n")
    print(
        json.dumps(
            {
                k: v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if kk != "ssm_row0"}
                for k, v in out.items()
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
