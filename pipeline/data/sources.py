"""Where pieces come from: music21's bundled corpus and users' MIDI folders.

A source only *lists* candidates (cheap, in the flow); parsing happens in sharded tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.params.data import MidiDirSource, Music21Source
from pipeline.data.metadata import MetadataError, read_metadata, resolve_inside

MIDI_SUFFIXES = {".mid", ".midi", ".MID", ".MIDI"}


@dataclass
class Candidate:
    id: str
    source: str  # "music21" or the user source's name
    source_id: str  # corpus-relative path (+ "#N" for a tune in an ABC book) or path under root
    path: str  # absolute file to read
    kind: str  # "score" (music21 parses it) or "midi"
    tune: int | None = None  # X: number inside an ABC book
    labels: dict = field(default_factory=dict)


@dataclass
class ListingProblem:
    """A metadata row or file that could not even become a candidate."""

    source: str
    source_id: str
    reason: str
    detail: str


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_").lower()


def music21_corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def abc_tunes(path: Path) -> list[tuple[int, str]]:
    """Split an ABC book into (X number, tune text); music21 needs one tune at a time."""
    text = path.read_text(encoding="latin-1")
    tunes, current = [], None
    for line in text.splitlines():
        if line.startswith("X:"):
            if current:
                tunes.append(current)
            num = re.sub(r"\D", "", line[2:]) or str(len(tunes) + 1)
            current = (int(num), [line])
        elif current is not None:
            current[1].append(line)
    if current:
        tunes.append(current)
    return [(n, "\n".join(lines).strip() + "\n") for n, lines in tunes]


def spread(items: list, cap: int) -> list:
    """Deterministic, evenly spaced pick of ``cap`` items, so a small cap still spans the collection."""
    if cap >= len(items):
        return items
    step = len(items) / cap
    return [items[int(i * step)] for i in range(cap)]


def list_music21(src: Music21Source) -> list[Candidate]:
    root = music21_corpus_dir()
    out: list[Candidate] = []
    for name, col in src.collections.items():
        files = sorted({p for pat in col.paths for p in root.glob(pat) if p.is_file()})
        pool: list[Candidate] = []
        labels = {"composer": col.composer, "period": col.period, "genre": col.genre, "collection": name}
        for f in files:
            rel = f.relative_to(root).as_posix()
            if f.suffix == ".abc":
                for num, _ in abc_tunes(f):
                    pool.append(Candidate(
                        id=f"{slug(name)}-{slug(f.stem)}-x{num}", source="music21",
                        source_id=f"{rel}#{num}", path=str(f), kind="score", tune=num,
                        labels=dict(labels)))
            else:
                stem = slug(f.relative_to(root / rel.split("/")[0]).with_suffix("").as_posix())
                pool.append(Candidate(
                    id=f"{slug(name)}-{stem}", source="music21", source_id=rel, path=str(f),
                    kind="score", labels=dict(labels)))
        out.extend(spread(pool, col.cap))
    return out


def _inside(root: Path, p: Path) -> bool:
    return p == root or root in p.parents


def midi_files(root: Path) -> tuple[list[Path], list[tuple[str, str, str]]]:
    """The regular .mid/.midi files under ``root`` (resolved), plus (path, reason, detail) for
    every entry that looks like one but cannot be read as one. A symlink whose target lies
    outside the folder is a path escape (like ``../`` in metadata): it is reported, never read,
    and neither is a symlinked folder that leaves the root (rglob would skip it silently)."""
    files, problems = [], []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        try:
            target = p.resolve()
        except (OSError, RuntimeError) as e:  # a symlink loop
            problems.append((rel, "unreadable", f"cannot resolve: {e}"))
            continue
        midi_named = p.suffix in MIDI_SUFFIXES
        if not _inside(root, target):
            if midi_named or p.is_dir():
                problems.append((rel, "path_escape", f"symlink to {target} points outside the data root {root}"))
            continue
        if not midi_named:
            continue
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            problems.append((rel, "not_a_file", "a directory named like a MIDI file (files inside it are "
                                                "listed on their own)"))
        elif p.is_symlink() and not p.exists():
            problems.append((rel, "missing_file", f"broken symlink to {target}"))
        else:
            problems.append((rel, "not_a_file", "not a regular file (device, FIFO or socket)"))
    return files, problems


def list_midi_dir(src: MidiDirSource, root_dir: Path) -> tuple[list[Candidate], list[ListingProblem]]:
    """Every .mid/.midi under the folder, labelled from the metadata file when one is given."""
    root = (root_dir / src.path).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"ingest source '{src.name}': folder {root} does not exist")
    problems: list[ListingProblem] = []
    labels_by_path: dict[str, dict] = {}
    if src.metadata:
        meta_path = (root_dir / src.metadata).resolve()
        try:
            rows = read_metadata(meta_path, src.metadata_format)
        except MetadataError as e:
            raise MetadataError(f"ingest source '{src.name}': {e}") from None
        for rel, labels in rows:
            try:
                p = resolve_inside(root, rel)
            except MetadataError as e:
                problems.append(ListingProblem(src.name, rel, "path_escape", str(e)))
                continue
            if not p.is_file():
                problems.append(ListingProblem(src.name, rel, "missing_file", f"{p} not found"))
                continue
            labels_by_path.setdefault(p.relative_to(root).as_posix(), {}).update(labels)
    files, listing_problems = midi_files(root)
    for rel, reason, detail in listing_problems:
        problems.append(ListingProblem(src.name, rel, reason, detail))
    cands = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        cands.append(Candidate(
            id=f"{slug(src.name)}-{slug(Path(rel).with_suffix('').as_posix())}", source=src.name,
            source_id=rel, path=str(f), kind="midi", labels=labels_by_path.get(rel, {})))
    return cands, problems


def unique_ids(cands: list[Candidate]) -> list[Candidate]:
    """Slugs can collide (``a b.mid`` vs ``a_b.mid``); suffix later ones deterministically."""
    seen: dict[str, int] = {}
    for c in cands:
        n = seen.get(c.id, 0)
        seen[c.id] = n + 1
        if n:
            c.id = f"{c.id}-{n + 1}"
    return cands


def list_sources(sources: list[Music21Source | MidiDirSource],
                 root: Path) -> tuple[list[Candidate], list[ListingProblem]]:
    """Every source's candidates in params order (ids made unique) and the listing problems."""
    cands, problems = [], []
    for src in sources:
        if isinstance(src, MidiDirSource):
            found, bad = list_midi_dir(src, root)
            cands += found
            problems += bad
        else:
            cands += list_music21(src)
    return unique_ids(cands), problems
