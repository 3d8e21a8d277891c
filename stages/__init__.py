"""One thin module per DVC stage (``python -m stages.<name>``), each running one Prefect flow.

Importing this package sets Prefect's environment before prefect itself is imported, and turns
"this Python lacks our dependencies" (DVC ran ``python`` from outside the venv) into one line
that says what to do instead of a traceback ending in ``No module named 'prefect'``.
"""

import sys

# Imported by every stage before anything else: checked cheaply, without importing them.
_NEEDED = ("prefect", "pydantic", "yaml", "numpy")


def missing_deps_message(module: str) -> str:
    return (
        f"ostinato: {sys.executable} cannot import '{module}': this Python lacks ostinato's "
        "dependencies. Activate the project venv first (`source .venv/bin/activate`, made by "
        "`make setup`), or use `make repro` / `make ui`, which use it for you."
    )


def _one_line_for_missing_module(exc_type, exc, tb, _previous=sys.excepthook):
    """A module missing while a stage module itself imports (torch, symusic, ...) -> same line."""
    name = getattr(exc, "name", None) or ""
    if issubclass(exc_type, ModuleNotFoundError) and name and not name.startswith(("pipeline", "stages")):
        print(missing_deps_message(name), file=sys.stderr)
        return
    _previous(exc_type, exc, tb)


def _check_deps() -> None:
    from importlib.util import find_spec

    for module in _NEEDED:
        if find_spec(module) is None:
            sys.exit(missing_deps_message(module))


_check_deps()
sys.excepthook = _one_line_for_missing_module

from pipeline.config import repo_root  # noqa: E402
from pipeline.orchestration.env import prepare_prefect_env  # noqa: E402

prepare_prefect_env(repo_root())

from pipeline.orchestration.stage import quiet_bad_input_tracebacks  # noqa: E402  (no prefect import)

quiet_bad_input_tracebacks()
