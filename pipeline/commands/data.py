"""``ostinato data check DIR|FILE``: what ingest would accept and reject, through the same code."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from pipeline.config import load_section
from pipeline.data.ingest import finalize, process_candidate
from pipeline.data.sources import Candidate, list_midi_dir, unique_ids
from pipeline.params.data import IngestLimits, MidiDirSource, SplitParams

CHECK_HELP = (
    "Parse every .mid/.midi file under DIR (and its metadata), or one FILE, exactly as the ingest\n"
    "stage would, and list what would be accepted, rejected (with a reason) or dropped as a duplicate."
)
EXIT_CODES = """exit codes:
  0  every file would be accepted (duplicates alone do not fail the check)
  1  at least one file or metadata row would be rejected (listed as REJECT lines, or under
     "rejected" with --json)
  2  the check could not run: bad arguments, DIR missing, unreadable metadata or --params file"""


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    c = sub.add_parser(
        "check",
        help="validate a folder of .mid/.midi files",
        description=CHECK_HELP,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("dir", type=Path, metavar="DIR_OR_FILE", help="a folder (searched recursively) or one MIDI file")
    c.add_argument("--metadata", help="CSV/JSONL table, MAESTRO/ATEPP CSV or Aria metadata.json")
    c.add_argument(
        "--format",
        default="auto",
        choices=["auto", "table", "maestro", "atepp", "aria_eval"],
        help="metadata format (default: detected from the file)",
    )
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.add_argument("--params", type=Path, help="take limits from this params.yaml (default: built-in)")


def listing(path: Path, metadata: str | None, fmt: str) -> tuple[list[Candidate], list]:
    """The candidates of a folder (as the ingest stage lists a ``midi_dir`` source) or of one file."""
    if path.is_file():
        if metadata:
            raise ValueError(f"{path} is a file: --metadata labels a folder; check the folder instead")
        return [Candidate(id="check-file", source="check", source_id=path.name, path=str(path), kind="midi")], []
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    src = MidiDirSource(
        path=str(path.resolve()),
        metadata=str(Path(metadata).resolve()) if metadata else None,
        metadata_format=fmt,
        name="check",
    )
    cands, problems = list_midi_dir(src, Path("/"))
    return unique_ids(cands), problems


def check(directory: Path, metadata: str | None, fmt: str, limits: IngestLimits) -> dict:
    cands, problems = listing(directory, metadata, fmt)
    results = [process_candidate(c, limits, None) for c in cands]
    rows = [r["row"] for r in results if r["ok"]]
    index, dups = finalize(rows, 0, SplitParams())
    rejected = [vars(p) for p in problems] + [r["rejection"] for r in results if not r["ok"]]
    return {
        "accepted": [
            {
                "file": r["source_id"],
                "notes": r["n_notes"],
                "seconds": r["duration_s"],
                "labels": {k: r[k] for k in ("composer", "period", "genre") if r[k] != "unknown"} | r["labels"],
            }
            for r in index
        ],
        "duplicates": [{"file": d["source_id"], "duplicate_of": d["duplicate_of"]} for d in dups],
        "rejected": [{"file": r["source_id"], "reason": r["reason"], "detail": r["detail"]} for r in rejected],
    }


def run(args) -> int:
    limits = load_section("ingest", args.params).limits if args.params else IngestLimits()
    report = check(args.dir, args.metadata, args.format, limits)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{len(report['accepted'])} accepted, {len(report['rejected'])} rejected, "
            f"{len(report['duplicates'])} duplicates in {args.dir}"
        )
        for r in report["rejected"]:
            print(f"  REJECT {r['file']}: {r['reason']} {r['detail']}")
        for d in report["duplicates"]:
            print(f"  DUPLICATE {d['file']} (same notes as {d['duplicate_of']})")
        reasons = Counter(r["reason"] for r in report["rejected"])
        if reasons:
            print("by reason: " + ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())))
    return 1 if report["rejected"] else 0
