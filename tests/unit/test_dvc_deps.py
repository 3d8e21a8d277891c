"""dvc.yaml lists the exact code each stage runs: the closure of its imports inside the repo.

A module missing from ``deps`` means DVC would not rerun the stage when that code changes.
Package ``__init__`` files are skipped (docstrings and re-exports), except ``stages/__init__.py``
which sets the Prefect environment; ``pipeline/params/__init__.py`` is only the name registry.
"""

import ast
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def imports_of(path: Path) -> set[Path]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            if n.split(".")[0] in ("pipeline", "stages"):
                f = module_file(n)
                if f is not None:
                    out.add(f)
    return out


def closure(start: Path) -> set[Path]:
    seen, todo = set(), [start]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        if f.name == "__init__.py" and f.parent.name == "params":
            continue
        todo.extend(imports_of(f))
    return {f for f in seen if f.name != "__init__.py" or f == ROOT / "stages/__init__.py"}


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def section_modules(stage: dict) -> set[Path]:
    """The params modules defining the sections a stage reads (loaded through the registry)."""
    import importlib

    from pipeline.config import sections

    out = set()
    for key in stage.get("params", []):
        model = sections()[key.split(".")[0]]
        out.add(Path(importlib.import_module(model.__module__).__file__))
    return out


# Code a module runs as a separate program (never imported, so the import walk cannot see it)
PROGRAMS = {"pipeline/data/sheet_convert.py": ["pipeline/data/vendor/xml2abc.py"]}


def needed_code(stage: dict) -> set[str]:
    module = module_file(stage["cmd"].split("-m ")[-1].split()[0])
    files = {ROOT / "stages/__init__.py"}  # `python -m stages.x` always runs it
    for start in {module, ROOT / "stages/__init__.py"} | section_modules(stage):
        files |= closure(start)
    code = {f.relative_to(ROOT).as_posix() for f in files}
    return code.union(*(PROGRAMS.get(f, []) for f in code))


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_code_deps_are_exact(name):
    stage = STAGES[name]
    needed = needed_code(stage)
    listed = {d for d in stage.get("deps", []) if d.endswith(".py")}
    assert not needed - listed, f"{name}: code it imports but dvc.yaml does not list: {sorted(needed - listed)}"
    assert not listed - needed, f"{name}: listed but never imported: {sorted(listed - needed)}"


def sync(text: str) -> str:
    """dvc.yaml text with every stage's code deps replaced by its exact import closure
    (other deps kept in place, comments untouched): ``python tests/unit/test_dvc_deps.py --write``."""
    lines, out, stage, i = text.splitlines(), [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            stage = line.strip()[:-1]
        out.append(line)
        i += 1
        if line.strip() == "deps:" and stage in STAGES:
            items = []
            while i < len(lines) and lines[i].startswith("      - "):
                items.append(lines[i][8:].strip())
                i += 1
            module = STAGES[stage]["cmd"].split("-m ")[-1].split()[0].replace(".", "/") + ".py"
            code = sorted(needed_code(STAGES[stage]) - {module, "stages/__init__.py"})
            out += [f"      - {d}" for d in [module, "stages/__init__.py", *code]]
            out += [f"      - {d}" for d in items if not d.endswith(".py")]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    new = sync((ROOT / "dvc.yaml").read_text())
    if "--write" in sys.argv:
        (ROOT / "dvc.yaml").write_text(new)
    else:
        sys.stdout.write(new)
