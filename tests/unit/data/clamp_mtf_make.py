"""Makes clamp_mtf.json by running upstream CLaMP 2 itself (not run by the tests; kept to redo the facts).

Upstream: sanderwood/clamp2 @ a3ebc75. For each MIDI file below: ``process_data/batch_midi2mtf.py``'s
``load_midi`` (under mido 1.3.0, clamp2's pin) gives the MTF text, ``code/utils.py``'s ``M3Patchilizer``
its patch ids, and ``code/extract_clamp2.py``'s ``extract_feature`` (normalised mode, as NotaGen and
the FMD package use it) its feature under a tiny CLaMP2Model whose weights are filled by
:func:`clamp_mtf_weights.fill` (tests/unit) (the test rebuilds the same state dict from the key list).

Run from the repo root (paths are scratch copies under /tmp)::

    git -C <clamp2 clone> archive a3ebc75 code process_data | tar -x -C /tmp/clamp2-src
    python3 -m venv /tmp/scratch-mtf && /tmp/scratch-mtf/bin/pip install mido==1.3.0 Unidecode
    PYTHONPATH=/tmp/scratch-mtf/lib/python3.11/site-packages .venv/bin/python \
        tests/unit/data/clamp_mtf_make.py /tmp/clamp2-src
"""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import struct
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clamp_mtf_weights import TINY, fill  # noqa: E402

OUT = Path(__file__).with_name("clamp_mtf.json")
REAL = Path("data/ingest/midi/bach_chorales-bwv286.mid")  # music21 corpus chorale, as our ingest writes it


# ----------------------------------------------------------------------------- the MIDI files
def _track(events: list[tuple[int, mido.Message | mido.MetaMessage]]) -> mido.MidiTrack:
    track, now = mido.MidiTrack(), 0
    for tick, msg in sorted(events, key=lambda e: e[0]):
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def conductor_multitrack() -> bytes:
    """Type 1: conductor (tempo, meter, key, dropped marker/text with their deltas), piano with
    pedal, bends, aftertouch and lyrics, GM drums on channel 10, a six-note chord on channel 3."""
    M, Meta = mido.Message, mido.MetaMessage
    conductor = [
        (0, Meta("track_name", name="Conductor")),
        (0, Meta("set_tempo", tempo=500_000)),
        (0, Meta("time_signature", numerator=3, denominator=4)),
        (0, Meta("key_signature", key="Bbm")),
        (480, Meta("marker", text="A")),
        (960, Meta("set_tempo", tempo=400_000)),
        (1440, Meta("time_signature", numerator=6, denominator=8)),
        (1500, Meta("text", text="coda")),
        (1700, Meta("set_tempo", tempo=600_000)),
    ]
    piano = [
        (0, Meta("track_name", name="Piano")),
        (0, M("program_change", program=0, channel=0)),
        (0, M("control_change", control=64, value=127, channel=0)),
        (0, M("note_on", note=60, velocity=90, channel=0)),
        (240, M("pitchwheel", pitch=-2000, channel=0)),
        (300, Meta("lyrics", text="la")),
        (480, M("note_on", note=60, velocity=0, channel=0)),
        (480, M("note_on", note=64, velocity=70, channel=0)),
        (600, M("aftertouch", value=50, channel=0)),
        (700, M("polytouch", note=64, value=40, channel=0)),
        (960, M("note_off", note=64, velocity=64, channel=0)),
        (960, M("control_change", control=64, value=0, channel=0)),
        (1440, M("note_on", note=67, velocity=80, channel=0)),
        (1920, M("note_off", note=67, velocity=0, channel=0)),
    ]
    drums = []
    for t in range(0, 1920, 240):
        for n in (36, 42) if t % 480 == 0 else (38, 42):
            drums += [
                (t, M("note_on", note=n, velocity=100, channel=9)),
                (t + 60, M("note_on", note=n, velocity=0, channel=9)),
            ]
    chord = [(0, M("program_change", program=11, channel=2))]
    for n in (48, 52, 55, 60, 64, 67):
        chord += [(960, M("note_on", note=n, velocity=64, channel=2)), (1900, M("note_off", note=n, channel=2))]
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.extend(_track(t) for t in (conductor, piano, drums, chord))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n := n >> 7:
        out.insert(0, 0x80 | (n & 0x7F))
    return bytes(out)


def raw_running_status_sysex() -> bytes:
    """Type 0 written byte by byte (tpb 96): running status (note-ons and CCs), two sysex
    messages (the second with a delta that is lost with it), a latin-1 program name, an unknown
    meta short and long (a line past a patch), sequencer-specific, port, channel prefix, SMPTE."""
    ev = [
        (0, b"\xff\x51\x03\x07\xa1\x20"),  # tempo 500000
        (0, b"\xf0\x05\x7e\x7f\x09\x01\xf7"),  # GM on
        (0, b"\xff\x21\x01\x00"),  # midi_port
        (0, b"\xff\x20\x01\x00"),  # channel_prefix
        (0, b"\xff\x54\x05\x60\x00\x00\x00\x00"),  # smpte_offset
        (0, b"\xff\x08\x05Pian\xe9"),  # program_name (latin-1)
        (0, b"\xc0\x05"),
        (0, b"\x90\x3c\x64"),
        (0, b"\x40\x64"),  # running status: note_on 64
        (0, b"\x43\x50"),
        (48, b"\x3c\x00"),  # running status, velocity 0
        (0, b"\x40\x00"),
        (10, b"\xf0\x03\x43\x10\xf7"),  # sysex with a delta of its own
        (5, b"\xb0\x07\x64"),
        (0, b"\x0a\x40"),  # running status: CC 10
        (0, b"\xff\x60\x03\x01\x02\x03"),  # unknown meta
        (0, b"\x47\x00"),  # running status across a meta (meta does not reset it in mido)
        (0, b"\xff\x7f\x03\x00\x00\x41"),  # sequencer_specific
        (0, b"\xe0\x00\x50"),  # pitchwheel
        (12, b"\xff\x61\x1e" + bytes(range(30))),  # unknown meta, long line
        (0, b"\x90\x48\x50"),
        *[(0, bytes([0x30 + i, 0x40])) for i in range(12)],  # 12 running-status note-ons on one tick
        (96, b"\x80\x48\x00"),
        (0, b"\xff\x2f\x00"),
    ]
    body = b"".join(_vlq(d) + e for d, e in ev)
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(body)) + body


def pieces() -> dict[str, bytes]:
    return {
        "conductor_multitrack": conductor_multitrack(),
        "raw_running_status_sysex": raw_running_status_sysex(),
        "chorale_bwv286": REAL.read_bytes(),
    }


ABC = """X:1
L:1/8
M:4/4
K:G
V:1
[V:1]|:d2 fe dc|B2 A2 G4|G8:|
"""


# ----------------------------------------------------------------------------- upstream
def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def upstream_extractor(src: Path, scratch: Path):
    """(patchilizer, model, extract_feature) from upstream's own files, with a tiny config."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    text_dir = scratch / "tiny-xlmr"
    XLMRobertaModel(
        XLMRobertaConfig(
            vocab_size=TINY["text_vocab"],
            hidden_size=TINY["text_hidden"],
            num_hidden_layers=TINY["text_layers"],
            num_attention_heads=1,
            intermediate_size=TINY["text_intermediate"],
            max_position_embeddings=TINY["text_positions"],
            type_vocab_size=1,
        )
    ).save_pretrained(text_dir)
    code = scratch / "code"
    code.mkdir()
    (code / "config.py").write_text(
        (src / "code/config.py").read_text()
        + f"\nPATCH_LENGTH = {TINY['patch_length']}\nPATCH_NUM_LAYERS = {TINY['layers']}\n"
        + f"M3_HIDDEN_SIZE = {TINY['hidden']}\nCLAMP2_HIDDEN_SIZE = {TINY['proj']}\n"
        + f"TEXT_MODEL_NAME = {str(text_dir)!r}\nM3_WEIGHTS_PATH = '/nonexistent'\n"
    )
    sys.path.insert(0, str(code))
    utils = load_module("utils", src / "code/utils.py")
    from transformers import BertConfig

    h = TINY["hidden"]
    m3_config = BertConfig(
        vocab_size=1,
        hidden_size=h,
        num_hidden_layers=TINY["layers"],
        num_attention_heads=h // 64,
        intermediate_size=h * 4,
        max_position_embeddings=TINY["patch_length"],
    )
    model = utils.CLaMP2Model(m3_config, text_model_name=str(text_dir), hidden_size=TINY["proj"], load_m3=False)
    keys = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    model.load_state_dict(fill(keys))
    model.eval()
    # extract_clamp2.py's extract_feature, verbatim, in a namespace holding what the script defines
    tree = ast.parse((src / "code/extract_clamp2.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "extract_feature")
    ns = {**vars(utils), "normalize": True, "model": model, "patchilizer": utils.M3Patchilizer(), "device": "cpu"}
    exec(compile(ast.Module([fn], []), "extract_clamp2.py", "exec"), ns)
    return ns["patchilizer"], keys, ns["extract_feature"]


def main(src: Path) -> None:
    assert str(mido.version_info) == "1.3.0", f"want clamp2's mido 1.3.0, got {mido.version_info}"
    midi2mtf = load_module("batch_midi2mtf", src / "process_data/batch_midi2mtf.py")
    assert midi2mtf.m3_compatible
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        patchilizer, keys, extract = upstream_extractor(src, tmp)
        out = {
            "upstream": "sanderwood/clamp2@a3ebc75 (batch_midi2mtf.load_midi, M3Patchilizer, extract_feature)",
            "mido": "1.3.0",
            "tiny": TINY,
            "state_keys": keys,
            "pieces": {},
        }
        for name, data in pieces().items():
            path = tmp / f"{name}.mid"
            path.write_bytes(data)
            text = midi2mtf.load_midi(str(path))
            (tmp / f"{name}.mtf").write_text(text, encoding="utf-8")
            with torch.no_grad():
                feat = extract(str(tmp / f"{name}.mtf")).numpy()
            out["pieces"][name] = {
                "midi_hex": data.hex(),
                "mtf": text,
                "patches": patchilizer.encode(text, add_special_patches=True),
                "feature": np.asarray(feat, dtype=np.float64).round(8).tolist(),
            }
        (tmp / "abc.abc").write_text(ABC, encoding="utf-8")
        with torch.no_grad():
            feat = extract(str(tmp / "abc.abc")).numpy()
        out["abc"] = {"text": ABC, "feature": np.asarray(feat, dtype=np.float64).round(8).tolist()}
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    for name, p in out["pieces"].items():
        print(name, len(p["mtf"].splitlines()), "lines", len(p["patches"]), "patches")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
