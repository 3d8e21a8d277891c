"""The house rules of the layout, checked on the source:

* generic layers (config, params, data, train, sample, eval, report, orchestration) never import
  a family package (pipeline/aria, pipeline/gnm, ...), not even inside a function;
* no import cycles between modules of pipeline/ and stages/ (late imports included, so none
  can hide one);
* every stage module is named <family or layer>_<step> or is a shared data stage.
"""

from pathlib import Path

import pytest
from test_dvc_deps import ROOT, imports_of

pytestmark = pytest.mark.unit

GENERIC = ("params", "data", "train", "sample", "eval", "report", "orchestration")
NOT_FAMILY = set(GENERIC) | {"commands", "__pycache__"}
FAMILIES = sorted(d.name for d in (ROOT / "pipeline").iterdir() if d.is_dir() and d.name not in NOT_FAMILY)


def generic_modules() -> list[Path]:
    files = [ROOT / "pipeline/config.py"]
    for layer in GENERIC:
        files += sorted((ROOT / "pipeline" / layer).rglob("*.py"))
    return files


def test_there_are_family_packages():
    assert "aria" in FAMILIES


@pytest.mark.parametrize("path", generic_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_generic_layers_never_import_a_family(path):
    if path == ROOT / "pipeline/params/__init__.py":
        pytest.skip("the section registry names every family's params module (params, not code)")
    bad = sorted(
        p.relative_to(ROOT).as_posix()
        for p in imports_of(path)
        if p.relative_to(ROOT).parts[:2] in {("pipeline", f) for f in FAMILIES}
    )
    assert not bad, f"{path.relative_to(ROOT)} imports family code {bad}"


def test_no_import_cycles():
    files = [
        p
        for p in sorted((ROOT / "pipeline").rglob("*.py")) + sorted((ROOT / "stages").glob("*.py"))
        if p.name != "__init__.py"
    ]
    graph = {f: {g for g in imports_of(f) if g.name != "__init__.py" and g != f} for f in files}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(
                    [p.relative_to(ROOT).as_posix() for p in stack[stack.index(nxt) :]]
                    + [nxt.relative_to(ROOT).as_posix()]
                )
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for f in files:
        if f not in state:
            visit(f, [])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_stage_names_say_their_family():
    shared = {"ingest", "render_audio", "segment", "pack", "report", "eval_generators"}  # generic stages
    prefixes = tuple(f"{f}_" for f in FAMILIES) + ("abc_", "codec_", "clamp_")
    for stage in sorted((ROOT / "stages").glob("*.py")):
        if stage.name == "__init__.py" or stage.stem in shared:
            continue
        assert stage.stem.startswith(prefixes), f"stages/{stage.name}: name it <family>_<step>"


@pytest.mark.parametrize("stage", sorted(p.stem for p in (ROOT / "stages").glob("*.py") if p.stem != "__init__"))
def test_every_stage_module_imports(stage):
    import importlib

    importlib.import_module(f"stages.{stage}")


STAGE_WIRING_LINES = 40


def wiring_lines(path: Path) -> int:
    """Lines of a stage module without its docstring, imports, blank lines and comments."""
    import ast

    src = path.read_text()
    tree = ast.parse(src)
    skip: set[int] = set()
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        if is_doc or isinstance(node, (ast.Import, ast.ImportFrom)):
            skip |= set(range(node.lineno, node.end_lineno + 1))
    return sum(
        1
        for i, line in enumerate(src.splitlines(), 1)
        if i not in skip and line.strip() and not line.strip().startswith("#")
    )


@pytest.mark.parametrize("stage", sorted(p.stem for p in (ROOT / "stages").glob("*.py") if p.stem != "__init__"))
def test_stages_only_wire(stage):
    """A stage reads params, checks inputs, calls one family function and commits; the work lives
    in its family package (docs/architecture.md)."""
    n = wiring_lines(ROOT / "stages" / f"{stage}.py")
    assert n <= STAGE_WIRING_LINES, f"stages/{stage}.py has {n} lines of code; move the work into its family package"


@pytest.mark.parametrize("family", FAMILIES)
def test_family_entry_points_are_stable(family):
    """Reading an entry point twice gives the same object: a lazy export must never be replaced
    by a submodule of the same name imported on first access."""
    import importlib
    import types

    pkg = importlib.import_module(f"pipeline.{family}")
    if hasattr(pkg, "__getattr__"):
        assert hasattr(pkg, "__all__"), f"pipeline/{family}/__init__.py exports lazily: list the names in __all__"
    for name in getattr(pkg, "__all__", ()):
        first = getattr(pkg, name)
        assert not isinstance(first, types.ModuleType), f"pipeline.{family}.{name} is a module, not the entry point"
        assert getattr(pkg, name) is first, f"pipeline.{family}.{name} changed on the second read"
