"""Where pieces come from: music21's bundled corpus, users' MIDI folders and users' sheet-music
folders (MusicXML / ABC).

A source only *lists* candidates (cheap, in the flow); parsing happens in sharded tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.data.metadata import MetadataError, read_metadata, resolve_inside
from pipeline.params.data import MidiDirSource, Music21Source, SheetSource

MIDI_SUFFIXES = {".mid", ".midi", ".MID", ".MIDI"}
SHEET_SUFFIXES = {".xml", ".mxl", ".musicxml", ".abc"}  # compared lower-cased
FOLDER_LABELS = ("period", "composer", "instrumentation")  # NotaGen's <period>/<composer>/<instrumentation>/


@dataclass
class Candidate:
    id: str
    source: str  # "music21" or the user source's name
    source_id: str  # corpus-relative path (+ "#N" for a tune in an ABC book) or path under root
    path: str  # absolute file to read
    kind: str  # "score" (music21 parses it), "midi", or "sheet" (MusicXML/ABC -> ABC, and MIDI when music21 can)
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
                    pool.append(
                        Candidate(
                            id=f"{slug(name)}-{slug(f.stem)}-x{num}",
                            source="music21",
                            source_id=f"{rel}#{num}",
                            path=str(f),
                            kind="score",
                            tune=num,
                            labels=dict(labels),
                        )
                    )
            else:
                stem = slug(f.relative_to(root / rel.split("/")[0]).with_suffix("").as_posix())
                pool.append(
                    Candidate(
                        id=f"{slug(name)}-{stem}",
                        source="music21",
                        source_id=rel,
                        path=str(f),
                        kind="score",
                        labels=dict(labels),
                    )
                )
        out.extend(spread(pool, col.cap))
    return out


def _inside(root: Path, p: Path) -> bool:
    return p == root or root in p.parents


def midi_files(root: Path, suffixes: set[str] = MIDI_SUFFIXES) -> tuple[list[Path], list[tuple[str, str, str]]]:
    """The regular .mid/.midi files (or files with other ``suffixes``, any case) under ``root``
    (resolved), plus (path, reason, detail) for every entry that looks like one but cannot be read
    as one. A symlink whose target lies outside the folder is a path escape (like ``../`` in
    metadata): it is reported, never read, and neither is a symlinked folder that leaves the root
    (rglob would skip it silently)."""
    files, problems = [], []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        try:
            target = p.resolve()
        except (OSError, RuntimeError) as e:  # a symlink loop
            problems.append((rel, "unreadable", f"cannot resolve: {e}"))
            continue
        wanted = p.suffix in suffixes or p.suffix.lower() in suffixes
        if not _inside(root, target):
            if wanted or p.is_dir():
                problems.append((rel, "path_escape", f"symlink to {target} points outside the data root {root}"))
            continue
        if not wanted:
            continue
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            problems.append(
                (rel, "not_a_file", "a directory named like a music file (files inside it are listed on their own)")
            )
        elif p.is_symlink() and not p.exists():
            problems.append((rel, "missing_file", f"broken symlink to {target}"))
        else:
            problems.append((rel, "not_a_file", "not a regular file (device, FIFO or socket)"))
    return files, problems


def metadata_labels(
    name: str, metadata: str | None, fmt: str, root: Path, root_dir: Path, problems: list[ListingProblem]
) -> dict[str, dict]:
    """Root-relative path -> labels from a source's metadata file; rows that escape the root or name
    no file become listing problems."""
    labels_by_path: dict[str, dict] = {}
    if not metadata:
        return labels_by_path
    try:
        rows = read_metadata((root_dir / metadata).resolve(), fmt)
    except MetadataError as e:
        raise MetadataError(f"ingest source '{name}': {e}") from None
    for rel, labels in rows:
        try:
            p = resolve_inside(root, rel)
        except MetadataError as e:
            problems.append(ListingProblem(name, rel, "path_escape", str(e)))
            continue
        if not p.is_file():
            problems.append(ListingProblem(name, rel, "missing_file", f"{p} not found"))
            continue
        labels_by_path.setdefault(p.relative_to(root).as_posix(), {}).update(labels)
    return labels_by_path


def list_midi_dir(src: MidiDirSource, root_dir: Path) -> tuple[list[Candidate], list[ListingProblem]]:
    """Every .mid/.midi under the folder, labelled from the metadata file when one is given."""
    root = (root_dir / src.path).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"ingest source '{src.name}': folder {root} does not exist")
    problems: list[ListingProblem] = []
    labels_by_path = metadata_labels(src.name, src.metadata, src.metadata_format, root, root_dir, problems)
    files, listing_problems = midi_files(root)
    for rel, reason, detail in listing_problems:
        problems.append(ListingProblem(src.name, rel, reason, detail))
    cands = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        cands.append(
            Candidate(
                id=f"{slug(src.name)}-{slug(Path(rel).with_suffix('').as_posix())}",
                source=src.name,
                source_id=rel,
                path=str(f),
                kind="midi",
                labels=labels_by_path.get(rel, {}),
            )
        )
    return cands, problems


def folder_labels(rel: str) -> dict:
    """``<period>/<composer>/<instrumentation>/.../file`` -> those three labels (NotaGen's layout);
    files fewer than three folders deep get none."""
    parts = Path(rel).parts[:-1]
    return dict(zip(FOLDER_LABELS, parts[:3])) if len(parts) >= 3 else {}


def list_sheet_dir(src: SheetSource, root_dir: Path) -> tuple[list[Candidate], list[ListingProblem]]:
    """Every .xml/.mxl/.musicxml file and every tune of every .abc file under the folder, labelled from
    folder names and the metadata file (a metadata row wins)."""
    root = (root_dir / src.path).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"ingest source '{src.name}': folder {root} does not exist")
    problems: list[ListingProblem] = []
    labels_by_path = metadata_labels(src.name, src.metadata, "table", root, root_dir, problems)
    files, listing_problems = midi_files(root, SHEET_SUFFIXES)
    problems += [ListingProblem(src.name, rel, reason, detail) for rel, reason, detail in listing_problems]
    cands = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        labels = (folder_labels(rel) if src.folder_labels else {}) | labels_by_path.get(rel, {})
        stem = f"{slug(src.name)}-{slug(Path(rel).with_suffix('').as_posix())}"
        if f.suffix.lower() != ".abc":
            cands.append(
                Candidate(id=stem, source=src.name, source_id=rel, path=str(f), kind="sheet", labels=dict(labels))
            )
            continue
        try:
            tunes = abc_tunes(f)
        except OSError as e:
            problems.append(ListingProblem(src.name, rel, "unreadable", str(e)))
            continue
        if not tunes:
            problems.append(ListingProblem(src.name, rel, "unparseable_score", "no X: tune in the ABC file"))
        for num, _ in tunes:
            cands.append(
                Candidate(
                    id=stem if len(tunes) == 1 else f"{stem}-x{num}",
                    source=src.name,
                    source_id=rel if len(tunes) == 1 else f"{rel}#{num}",
                    path=str(f),
                    kind="sheet",
                    tune=num,
                    labels=dict(labels),
                )
            )
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


def list_sources(
    sources: list[Music21Source | MidiDirSource | SheetSource], root: Path
) -> tuple[list[Candidate], list[ListingProblem]]:
    """Every source's candidates in params order (ids made unique) and the listing problems."""
    cands, problems = [], []
    for src in sources:
        if isinstance(src, (MidiDirSource, SheetSource)):
            found, bad = (list_midi_dir if isinstance(src, MidiDirSource) else list_sheet_dir)(src, root)
            cands += found
            problems += bad
        else:
            cands += list_music21(src)
    return unique_ids(cands), problems
