"""``ostinato params check`` validates every section; ``ostinato params profile NAME`` merges
``profiles/NAME.yaml`` into params.yaml (micro: a handful of pieces for smoke runs).
``ostinato params check --profile NAME`` validates params.yaml with the profile merged in (the
file is not touched) and prints each model's parameter count next to upstream's.

A profile names the files the user supplies (released weights, evaluation data) as values holding
``SET-ME`` plus what to download; both commands refuse such a profile with one line naming every
unset key, and every filled path of the profile's that does not exist."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from pipeline.config import deep_merge, default_sections, load_yaml_unique, read_params_file, repo_root, validate_all


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    ck = sub.add_parser("check", help="validate params.yaml (with --profile: merged, plus model sizes)")
    ck.add_argument("--profile", help="merge profiles/NAME.yaml in memory and print parameter counts")
    pr = sub.add_parser("profile", help="merge profiles/NAME.yaml into params.yaml")
    pr.add_argument("name")


UNSET = "SET-ME"  # marks a value the user fills in: the path of a file they download
PATH_KEYS = ("init", "vocab", "path", "metadata", "extra_metadata", "real_recordings")  # checked to exist


def leaves(tree, prefix: str = ""):
    """(dotted key, value) of every scalar in a YAML tree (list items by index)."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else None
    if items is None:
        yield prefix.rstrip("."), tree
        return
    for k, v in items:
        yield from leaves(v, f"{prefix}{k}.")


def refuse_unfilled(prof: Path, tree: dict, root: Path) -> None:
    """One error naming every ``SET-ME`` value of a profile and every path it gives that is missing
    (relative paths are the repo root's)."""
    unset, missing = [], []
    for key, value in leaves(tree):
        if isinstance(value, str) and UNSET in value:
            unset.append(f"{key} ({value})")
        elif isinstance(value, str) and key.rsplit(".", 1)[-1] in PATH_KEYS and not (root / value).exists():
            missing.append(f"{key} ({value})")
    problems = ([f"{len(unset)} unset: " + "; ".join(unset)] if unset else []) + (
        [f"{len(missing)} missing: " + "; ".join(missing)] if missing else []
    )
    if problems:
        raise ValueError(f"{prof}: fill in the paths first, {' | '.join(problems)}")


def merged_profile(name: str, root: Path | None = None) -> tuple[Path, dict]:
    """(params.yaml path, its tree with profiles/NAME.yaml deep-merged in); a profile with unset or
    missing paths is refused."""
    root = root or repo_root()
    prof = root / "profiles" / f"{name}.yaml"
    if not prof.is_file():
        known = sorted(p.stem for p in (root / "profiles").glob("*.yaml"))
        raise FileNotFoundError(f"profile {name!r} not found; known: {known}")
    path, params = read_params_file(root / "params.yaml")
    tree = load_yaml_unique(prof.read_text(), prof) or {}
    refuse_unfilled(prof, tree, root)
    return path, deep_merge(params, tree)


def check_profile(name: str, root: Path | None = None) -> tuple[list[str], list]:
    """Validate params.yaml + profile NAME without writing it; (sections, parameter-count rows)."""
    from pipeline.commands.param_counts import count_rows

    path, merged = merged_profile(name, root)
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / f"params+{name}.yaml"
        probe.write_text(yaml.safe_dump(merged, sort_keys=False))
        sections = validate_all(probe)
    return sections, count_rows(merged)


def apply_profile(name: str, root: Path | None = None) -> Path:
    path, merged = merged_profile(name, root)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(merged, sort_keys=False))
    validate_all(tmp)
    tmp.replace(path)
    return path


def report_defaults(present: list[str]) -> None:
    """Name the sections the file lacks (a deleted section is not an error: its stages run on the
    built-in defaults, which is what the user should know)."""
    missing = default_sections(dict.fromkeys(present))
    if missing:
        print(f"{len(missing)} section(s) not in the file, built-in defaults used: {', '.join(missing)}")


def run(args) -> int:
    if args.action == "check" and getattr(args, "profile", None):
        from pipeline.commands.param_counts import format_rows

        sections, rows = check_profile(args.profile)
        print(f"params.yaml + profiles/{args.profile}.yaml OK: {', '.join(sections)}")
        report_defaults(list(sections))
        print(f"parameter counts (meta device, no memory):\n{format_rows(rows)}")
    elif args.action == "check":
        sections = validate_all()
        print(f"params.yaml OK: {', '.join(sections)}")
        report_defaults(list(sections))
    else:
        print(f"applied profile {args.name} to {apply_profile(args.name)}")
    return 0
