"""Run ariautils on MIDI files and write what its AbsTokenizer produces, as compact JSON.

    /tmp/ariautils-venv/bin/python make_references.py OUT.json ROOT FILE.mid ...   # keys: paths under ROOT

Runs in a scratch venv with ariautils installed (not a project dependency), e.g.
    git clone https://github.com/EleutherAI/aria-utils && git -C aria-utils checkout e122d03
    python -m venv /tmp/ariautils-venv && /tmp/ariautils-venv/bin/pip install ./aria-utils
Default ``tokenizer.abs`` config (include_pedal false, include_drums true), add_dim_tok off,
<E> on. Per file: the prefix (sorted: ariautils shuffles it), the body (tokens after the
prefix), and the notes in token order as [onset_ms, duration_ms] before quantization
(durations after pedal folding; drums have none), so rounding is compared too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ariautils.midi import MidiDict, get_duration_ms
from ariautils.tokenizer import AbsTokenizer


def times(midi_dict: MidiDict, tokenizer: AbsTokenizer) -> list:
    """[onset_ms, duration_ms | None] per note, computed as _tokenize_midi_dict does."""
    md = MidiDict.from_msg_dict(midi_dict.get_msg_dict())
    md.remove_instruments(tokenizer.config["ignore_instruments"])
    pedals = md._build_pedal_intervals()
    msgs = sorted(md.note_msgs, key=lambda m: m["data"]["start"])
    origin, tpb, out = msgs[0]["tick"], md.ticks_per_beat, []
    for m in msgs:
        start, end = m["data"]["start"], m["data"]["end"]
        onset = get_duration_ms(origin, start, md.tempo_msgs, tpb)
        if m["channel"] == 9:
            out.append([onset, None])
            continue
        for p_start, p_end in pedals[m["channel"]]:
            if p_start < end < p_end:
                end = p_end
                break
        out.append([onset, get_duration_ms(start, end, md.tempo_msgs, tpb)])
    return out


def reference(path: Path, tokenizer: AbsTokenizer) -> dict:
    midi_dict = MidiDict.from_midi(path)
    try:
        notes = times(midi_dict, tokenizer)
        seq = tokenizer.tokenize(midi_dict, add_dim_tok=False, add_eos_tok=True)
    except Exception as e:  # noqa: BLE001 - the reference records that ariautils refuses it
        return {"error": f"{type(e).__name__}: {e}"}
    k = seq.index("<S>")
    return {"prefix": sorted(list(t) for t in seq[:k]), "body": seq[k:], "times": notes}


def main() -> None:
    out, root, files = Path(sys.argv[1]), Path(sys.argv[2]), [Path(f) for f in sys.argv[3:]]
    import ariautils

    repo = Path(ariautils.__file__).resolve().parents[1]
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    tokenizer = AbsTokenizer()
    refs = {f.resolve().relative_to(root.resolve()).as_posix(): reference(f, tokenizer) for f in files}
    doc = {"ariautils_commit": commit.strip() or "unknown", "config": "tokenizer.abs default", "files": refs}
    out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {out}: {len(refs)} files, {out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
