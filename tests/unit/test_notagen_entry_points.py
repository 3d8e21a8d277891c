"""The NotaGen and CLaMP packages' entry points are the same object however often they are read:
none is named like a submodule, which importing would put in its place."""

import importlib
import pkgutil
import types

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("package", ["pipeline.notagen", "pipeline.clamp"])
def test_entry_points_are_stable_when_read_twice(package):
    pkg = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    assert pkg.__all__ and not set(pkg.__all__) & submodules
    for name in pkg.__all__:
        first = getattr(pkg, name)
        assert not isinstance(first, types.ModuleType), name
        assert getattr(pkg, name) is first, name
        assert getattr(importlib.import_module(package), name) is first, name


def test_an_unknown_name_fails():
    import pipeline.notagen

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        pipeline.notagen.nothing  # noqa: B018
