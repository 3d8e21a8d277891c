"""Tokenizer speed, side by side on the same MIDI files; prints a table and ratios.

    python benchmarks/bench_tokenizers.py [--files N] [--rounds R] [--json out.json] [--quick]
    (or python -m benchmarks.bench_tokenizers ...; --quick: 3 files, 1 round, a smoke run)

Systems (each: read the MIDI file from disk + tokenize to ids, one process, one thread):
1. our Aria "abs" tokenizer (pipeline.aria.tokenizer.AbsTokenizer; MIDI read as ariautils
   reads it by pipeline.aria.midi; vs ariautils itself: benchmarks/bench_aria_tokenizer.py);
2. plain miditok ``REMI`` with miditok's default config;
3. plain miditok ``REMI`` with our GnM config (same beat_res / pitch range as 4);
4. our ``RemiTokenizer`` (miditok REMI + track merge, pitch check, tempo class, prefix).
Files: the first N MIDIs of data/ingest/index.jsonl, or Bach chorales from music21's corpus
written to a temp dir (with the ingest stage's own score writer) when data/ingest is absent.
Notes are counted once with symusic, so notes/s is comparable across systems; a file any
system fails on is left out of all.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.aria.tokenizer import AbsTokenizer  # noqa: E402
from pipeline.gnm.remi import RemiTokenizer, build_config  # noqa: E402


def corpus_files(n: int) -> list[Path]:
    index = ROOT / "data/ingest/index.jsonl"
    if index.exists():
        rows = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
        return [ROOT / "data/ingest" / r["midi"] for r in rows[:n]]
    from music21 import corpus

    from pipeline.data.scores import score_to_midi_bytes  # the writer the ingest stage uses

    out = Path(tempfile.mkdtemp(prefix="bench-tokenize-"))
    files = []
    for p in sorted(corpus.getComposer("bach"))[: n * 2]:
        if len(files) == n:
            break
        try:
            f = out / f"{Path(str(p)).stem}.mid"
            f.write_bytes(score_to_midi_bytes(corpus.parse(p)))
            files.append(f)
        except Exception:  # noqa: BLE001 - corpus files music21 cannot parse or write
            continue
    return files


def count_notes(path: Path) -> int:
    import symusic

    return sum(t.note_num() for t in symusic.Score(str(path)).tracks)


def systems() -> dict:
    from miditok import REMI, TokenizerConfig

    abs_tok, ours = AbsTokenizer(), RemiTokenizer()
    plain_default, plain_ours = REMI(TokenizerConfig()), REMI(build_config())

    def n_ids(seq) -> int:
        seqs = seq if isinstance(seq, list) else [seq]
        return sum(len(s.ids) for s in seqs)

    return {
        "ours: Aria abs (AbsTokenizer)": lambda f: len(abs_tok.encode(abs_tok.tokenize(f))),
        "miditok REMI (default config)": lambda f: n_ids(plain_default.encode(f)),
        "miditok REMI (our GnM config)": lambda f: n_ids(plain_ours.encode(f)),
        "ours: RemiTokenizer (GnM REMI)": lambda f: len(ours.encode(f)),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true", help="3 files, 1 round: a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.files, args.rounds = min(args.files, 3), 1

    files = corpus_files(args.files)
    fns = systems()
    ok = []
    for f in files:  # warm-up pass; also finds files a system cannot tokenize
        try:
            for fn in fns.values():
                fn(f)
            ok.append(f)
        except Exception as e:  # noqa: BLE001
            print(f"left out {f.name}: {type(e).__name__}: {e}")
    notes = sum(count_notes(f) for f in ok)
    print(f"{len(ok)} files, {notes} notes, {args.rounds} timed rounds (median)")

    results = {}
    for name, fn in fns.items():
        walls, cpus, toks = [], [], 0
        for _ in range(args.rounds):
            w0, c0, toks = time.perf_counter(), time.process_time(), 0
            for f in ok:
                toks += fn(f)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        results[name] = {
            "seconds": wall,
            "cpu_seconds": cpu,
            "notes_per_s": notes / wall,
            "tokens_per_s": toks / wall,
            "tokens": toks,
            "tokens_per_note": toks / max(notes, 1),
        }

    print(f"\n{'system':<34} {'s':>7} {'notes/s':>10} {'tokens/s':>11} {'tok/note':>9}")
    for name, r in results.items():
        print(
            f"{name:<34} {r['seconds']:>7.3f} {r['notes_per_s']:>10.0f} {r['tokens_per_s']:>11.0f} "
            f"{r['tokens_per_note']:>9.2f}"
        )
    base = results["ours: Aria abs (AbsTokenizer)"]["notes_per_s"]
    ratios = {
        f"Aria abs / {name}": base / r["notes_per_s"]
        for name, r in results.items()
        if not name.startswith("ours: Aria")
    }
    print(f"\n{'ratio (notes/s)':<50} {'x':>7}")
    for k, v in ratios.items():
        print(f"{k:<50} {v:>6.2f}x")
    out = {"files": len(ok), "notes": notes, "rounds": args.rounds, "results": results, "ratios": ratios}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
