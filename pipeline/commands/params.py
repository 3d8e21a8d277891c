"""``ostinato params check`` validates every section; ``ostinato params profile NAME`` merges
``profiles/NAME.yaml`` into params.yaml (micro: a handful of pieces for smoke runs)."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.config import deep_merge, read_params_file, repo_root, validate_all


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("check", help="validate params.yaml")
    pr = sub.add_parser("profile", help="merge profiles/NAME.yaml into params.yaml")
    pr.add_argument("name")


def apply_profile(name: str, root: Path | None = None) -> Path:
    root = root or repo_root()
    prof = root / "profiles" / f"{name}.yaml"
    if not prof.is_file():
        known = sorted(p.stem for p in (root / "profiles").glob("*.yaml"))
        raise FileNotFoundError(f"profile {name!r} not found; known: {known}")
    path, params = read_params_file(root / "params.yaml")
    merged = deep_merge(params, yaml.safe_load(prof.read_text()) or {})
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(merged, sort_keys=False))
    validate_all(tmp)
    tmp.replace(path)
    return path


def run(args) -> int:
    if args.action == "check":
        sections = validate_all()
        print(f"params.yaml OK: {', '.join(sections)}")
    else:
        print(f"applied profile {args.name} to {apply_profile(args.name)}")
    return 0
