"""Aria tokenizer speed: ours vs ariautils (upstream) on the same MIDI files; prints a ratio.

    python benchmarks/bench_aria_tokenizer.py [--ariautils-venv DIR] [--files N] [--rounds R]
                                              [--json out.json] [--quick]

Each system: read the MIDI file from disk, tokenize (default abs config, no <D>), encode to
ids, one process, one thread. Files: the differential-test inputs
(tests/unit/data/aria_ariautils/midi: ariautils' test assets + seeded fuzz files) plus the first
N MIDIs of data/ingest when it exists (--files, default 60). Our tokens equal ariautils' on
the first set (tests/unit/test_aria_ariautils.py).

ariautils is not a project dependency: give a venv where it is installed with
--ariautils-venv (or $ARIAUTILS_VENV); it then runs in a child process of that venv, in
rounds alternating with ours, timed inside the child (imports not counted). Without one, the
peer is skipped and the ratio is taken against the timing committed below, labelled as such.
--quick: 3 files, 1 round (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.aria.tokenizer import AbsTokenizer  # noqa: E402

FIXTURES = ROOT / "tests/unit/data/aria_ariautils/midi"
# ariautils e122d03 on the 31 fixture files alone (31,768 tokens), median of 5 rounds, measured
# with this script on the 2-core dev machine on 2026-12-06 (ours in the same run: 0.069 s wall,
# 0.049 s CPU: 10.5x). Only used, and labelled, when no ariautils venv is given; compared on
# CPU seconds (steadier than wall time on a shared machine).
COMMITTED_PEER = {"files": 31, "seconds": 0.728, "cpu_seconds": 0.492, "source": "committed 2026-12-06, not this run"}

PEER = r"""
import json, sys, time
from ariautils.midi import MidiDict
from ariautils.tokenizer import AbsTokenizer
files = json.loads(sys.stdin.read())
tok = AbsTokenizer()
w0, c0, n = time.perf_counter(), time.process_time(), 0
for f in files:
    n += len(tok.encode(tok.tokenize(MidiDict.from_midi(f), add_dim_tok=False)))
print(json.dumps({"seconds": time.perf_counter() - w0, "cpu_seconds": time.process_time() - c0, "tokens": n}))
"""


def bench_files(n: int) -> list[Path]:
    files = sorted(FIXTURES.rglob("*.mid"))
    index = ROOT / "data/ingest/index.jsonl"
    if index.exists() and n:
        rows = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
        files += [ROOT / "data/ingest" / r["midi"] for r in rows[:n]]
    return files


def ours_round(tok: AbsTokenizer, files: list[Path]) -> dict:
    w0, c0, n = time.perf_counter(), time.process_time(), 0
    for f in files:
        n += len(tok.encode(tok.tokenize(f)))
    return {"seconds": time.perf_counter() - w0, "cpu_seconds": time.process_time() - c0, "tokens": n}


def peer_round(python: Path, files: list[Path]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [str(python), "-c", PEER], input=json.dumps([str(f) for f in files]), capture_output=True, text=True, env=env
    )
    if r.returncode:
        raise RuntimeError(f"ariautils run failed in {python}: {r.stderr.strip().splitlines()[-1:]}")
    return json.loads(r.stdout)


def usable(files: list[Path], python: Path | None, tok: AbsTokenizer) -> list[Path]:
    """Files both systems tokenize (a file either refuses is left out of both)."""
    ok = []
    for f in files:
        try:
            tok.tokenize(f)
            if python is not None:
                peer_round(python, [f])
            ok.append(f)
        except Exception as e:  # noqa: BLE001
            print(f"left out {f.name}: {type(e).__name__}: {e}")
    return ok


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ariautils-venv", type=Path, default=os.environ.get("ARIAUTILS_VENV"))
    ap.add_argument("--files", type=int, default=60, help="MIDIs of data/ingest added to the fixtures")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true", help="3 files, 1 round: a smoke run")
    args = ap.parse_args(argv)
    python = Path(args.ariautils_venv) / "bin/python" if args.ariautils_venv else None
    files = bench_files(0 if args.quick or python is None else args.files)  # no peer: the committed one's files
    if args.quick:
        files, args.rounds = files[:3], 1
    if python is not None and not python.exists():
        raise SystemExit(f"bench_aria_tokenizer: error: no python in --ariautils-venv {args.ariautils_venv}")
    tok = AbsTokenizer()
    files = usable(files, python, tok)
    ours, peer = [], []
    for _ in range(args.rounds):  # alternate, so load on a shared machine hits both alike
        ours.append(ours_round(tok, files))
        if python is not None:
            peer.append(peer_round(python, files))
    res = {"files": len(files), "rounds": args.rounds, "ours": _median(ours)}
    if peer:
        res["ariautils"] = _median(peer)
        res["ratio"] = res["ariautils"]["seconds"] / res["ours"]["seconds"]
        label = "ariautils (same run)"
    else:
        print("ariautils: no --ariautils-venv / $ARIAUTILS_VENV given: peer skipped")
        label = f"ariautils ({COMMITTED_PEER['source']})"
        if len(files) == COMMITTED_PEER["files"]:
            res["ratio_vs_committed"] = COMMITTED_PEER["cpu_seconds"] / res["ours"]["cpu_seconds"]
    print(f"{len(files)} files, {args.rounds} rounds (median)")
    print(f"\n{'system':<56} {'s':>8} {'cpu s':>8} {'tokens':>9}")
    print(
        f"{'ours: AbsTokenizer (pipeline.aria)':<56} {res['ours']['seconds']:>8.3f} {res['ours']['cpu_seconds']:>8.3f} "
        f"{res['ours']['tokens']:>9}"
    )
    if peer:
        p = res["ariautils"]
        print(f"{label:<56} {p['seconds']:>8.3f} {p['cpu_seconds']:>8.3f} {p['tokens']:>9}")
        print(f"\nratio (ariautils s / ours s): {res['ratio']:.2f}x  (target >= 5x)")
    elif "ratio_vs_committed" in res:
        print(f"{label:<56} {COMMITTED_PEER['seconds']:>8.3f} {COMMITTED_PEER['cpu_seconds']:>8.3f}")
        print(f"\nratio (CPU s) vs the COMMITTED ariautils timing, not measured now: {res['ratio_vs_committed']:.2f}x")
    else:
        print("\nratio: n/a (no ariautils venv, and not the committed timing's file set)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return res


def _median(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


if __name__ == "__main__":
    main()
