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
    bad = sorted(p.relative_to(ROOT).as_posix() for p in imports_of(path)
                 if p.relative_to(ROOT).parts[:2] in {("pipeline", f) for f in FAMILIES})
    assert not bad, f"{path.relative_to(ROOT)} imports family code {bad}"


def test_no_import_cycles():
    files = [p for p in sorted((ROOT / "pipeline").rglob("*.py")) + sorted((ROOT / "stages").glob("*.py"))
             if p.name != "__init__.py"]
    graph = {f: {g for g in imports_of(f) if g.name != "__init__.py" and g != f} for f in files}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append([p.relative_to(ROOT).as_posix() for p in stack[stack.index(nxt):]] +
                              [nxt.relative_to(ROOT).as_posix()])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for f in files:
        if f not in state:
            visit(f, [])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_stage_names_say_their_family():
    shared = {"ingest", "render_audio", "segment", "pack", "report"}
    prefixes = tuple(f"{f}_" for f in FAMILIES) + ("abc_", "codec_", "clamp_")
    for stage in sorted((ROOT / "stages").glob("*.py")):
        if stage.name == "__init__.py" or stage.stem in shared:
            continue
        assert stage.stem.startswith(prefixes), f"stages/{stage.name}: name it <family>_<step>"


@pytest.mark.parametrize("stage", sorted(p.stem for p in (ROOT / "stages").glob("*.py") if p.stem != "__init__"))
def test_every_stage_module_imports(stage):
    import importlib

    importlib.import_module(f"stages.{stage}")
