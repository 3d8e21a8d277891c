"""Remake ``upstream.json``: score-to-audio's own ``objective_eval`` code on the clips here.

Run from the repository root with the project venv (torch, librosa 0.11, numpy; upstream's pins
are librosa 0.11 too) and a checkout of nii-yamagishilab/score-to-audio (cfe6aac)::

    python tests/unit/data/score_to_audio/make.py /path/to/score-to-audio

Upstream's ``obj_eval/__init__.py`` imports a ``timbre_eval`` that is not in the repository and
``01_compute_dis.py`` lacks its imports, so the two evaluation classes are loaded file by file and
the distance loop of ``01_compute_dis.py`` is repeated here as written (raw float32 feature files,
re-read as rows of 512, ``compute_dis(con_feat, exp_feat)`` with ``con_feat`` read from the
*evaluated* system's path). ``midi_filter_4.bank`` is absent from the repository snapshot: the
filterbank written in its place is ours (``pipeline.eval.audio_distance.midi_filterbank``).
The clips are remade from a fixed seed when missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SR = 24_000
PAIRS = [("truth", "gen"), ("codec", "gen"), ("truth", "codec"), ("gen", "truth")]  # (con_sys, exp_sys)


def clips() -> dict[str, np.ndarray]:
    """Piano-like decaying partials: truth (C-E-G), codec (truth + noise), gen (other notes, shorter)."""
    rng = np.random.default_rng(19)

    def notes(midis, seconds):
        t = np.arange(int(seconds * SR)) / SR
        y = np.zeros_like(t)
        for k, m in enumerate(midis):
            f, onset = 440 * 2 ** ((m - 69) / 12), 0.4 * k
            env = np.where(t >= onset, np.exp(-(t - onset) * 2.5), 0.0)
            y += sum(env * np.sin(2 * np.pi * f * h * t) / h**1.5 for h in (1, 2, 3, 4))
        return 0.2 * y / np.abs(y).max()

    truth = notes([60, 64, 67, 72], 2.5)
    return {
        "truth": truth,
        "codec": truth + 0.01 * rng.normal(size=truth.size),
        "gen": notes([62, 65, 69, 74, 57], 2.0) + 0.003 * rng.normal(size=int(2.0 * SR)),
    }


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(upstream: Path) -> None:
    import librosa
    import torch

    from pipeline.eval.audio_distance import midi_filterbank

    for name, wave in clips().items():
        if not (HERE / f"{name}.flac").exists():
            sf.write(HERE / f"{name}.flac", wave.astype(np.float32), SR, subtype="PCM_16")
    work = Path(tempfile.mkdtemp(prefix="s2a-"))
    shutil.copytree(upstream / "objective_eval" / "supportive", work / "supportive")
    midi_filterbank().astype("<f4").tofile(work / "supportive" / "spectrogram" / "midi_filter_4.bank")
    os.chdir(work)  # Audio reads the bank from a relative path
    sys.path.insert(0, str(work))
    chroma = load(upstream / "objective_eval" / "obj_eval" / "chroma_eval.py", "chroma_eval").ChromaEvaluation()
    midispec = load(upstream / "objective_eval" / "obj_eval" / "midispec_eval.py", "midispec_eval").MIDISpecEvaluation()
    src = (upstream / "objective_eval" / "01_compute_dis.py").read_text()
    ns = {"np": np}
    exec(re.search(r"def f_read_raw_mat.*?return data\n", src, re.S).group(0), ns)  # upstream's reader, verbatim
    out = {"upstream": "nii-yamagishilab/score-to-audio cfe6aac objective_eval", "pairs": []}
    for feat, model in (("chroma", chroma), ("midispec", midispec)):
        for sys_name in ("truth", "codec", "gen"):
            wav = librosa.core.load(str(HERE / f"{sys_name}.flac"), sr=SR)[0]  # as data/dataset.py
            f = model.inference(torch.from_numpy(wav)[None])
            (work / "output" / feat / sys_name).mkdir(parents=True, exist_ok=True)
            f.tofile(str(work / "output" / feat / sys_name / "clip.npy"), format="<f4")
        for con_sys, exp_sys in PAIRS:
            i = str(work / "output" / feat / con_sys / "clip.npy")
            exp_feat = ns["f_read_raw_mat"](i, col=512)
            con_feat = ns["f_read_raw_mat"](i.replace(con_sys, exp_sys), col=512)
            dis = float(model.compute_dis(con_feat, exp_feat))
            out["pairs"].append({"feat": feat, "con_sys": con_sys, "exp_sys": exp_sys, "dis": dis})
    (HERE / "upstream.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
