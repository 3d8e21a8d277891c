"""The stage contract: atomic output directories with a manifest, and running a stage flow.

A stage writes into hidden temp dirs next to its outputs and renames them into place only
after everything succeeded, so a killed stage leaves no partial output behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from pipeline import __version__
from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import write_json

ENVIRONMENT = "environment.json"  # listed in .dvcignore
# How a run went (its speed, the step a killed run resumed from): differs run to run by design,
# so never inside a hashed output; environment.json records it
TIMINGS = frozenset({"tokens_per_s", "samples_per_s", "train_seconds", "wall_s", "elapsed_s", "resumed_from_step"})


def split_timings(obj: Any) -> tuple[Any, dict]:
    """``obj`` without the TIMINGS keys (at any depth), and those keys as a flat dotted dict."""
    if not isinstance(obj, dict):
        return obj, {}
    stable, timings = {}, {}
    for k, v in obj.items():
        if k in TIMINGS:
            timings[k] = v
            continue
        stable[k], inner = split_timings(v)
        timings.update({f"{k}.{ik}": iv for ik, iv in inner.items()})
    return stable, timings


TRACKED_PACKAGES = (
    "torch",
    "numpy",
    "prefect",
    "dvc",
    "music21",
    "miditok",
    "mido",
    "pretty_midi",
    "lhotse",
    "pyfluidsynth",
    "soundfile",
    "safetensors",
    "scikit-learn",
    "mlx",
)


def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def hash_path(path: Path) -> str:
    """Content hash of a file or directory (relative names + bytes), like a DVC .dir hash."""
    h = hashlib.sha256()
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        rel = f.name if f == path else f.relative_to(path).as_posix()
        if rel in ("manifest.json", ENVIRONMENT):
            continue
        h.update(rel.encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


class StageOutputs:
    """``with StageOutputs("ingest", ["data/ingest"]) as out:`` write under ``out["data/ingest"]``
    (a temp dir), then ``out.commit(params, inputs, seed)`` writes each manifest and renames
    into place. Leaving the block without commit (an exception) deletes the temp dirs.
    """

    def __init__(self, stage: str, outs: list[str], root: Path | None = None):
        self.stage = stage
        self.root = root or repo_root()
        self.final = {o: self.root / o for o in outs}
        self.tmp = {o: p.parent / f".{p.name}.tmp" for o, p in self.final.items()}
        self.committed = False

    def __enter__(self) -> "StageOutputs":
        for t in self.tmp.values():
            shutil.rmtree(t, ignore_errors=True)  # a stale one from a killed run
            t.mkdir(parents=True)
        return self

    def __getitem__(self, out: str) -> Path:
        """The temp dir standing in for output ``out`` until commit."""
        return self.tmp[out]

    def commit(
        self,
        params: dict[str, Any],
        inputs: list[str] | None = None,
        seed: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        extra, timings = split_timings(extra or {})
        manifest = {
            "stage": self.stage,
            "ostinato": __version__,
            "params": params,
            "seed": seed,
            "inputs": {i: hash_path(self.root / i) for i in (inputs or [])},
            **extra,
        }
        # The machine (package builds, Python patch, OS) and how fast it ran go to
        # environment.json, which .dvcignore keeps out of DVC's hashes: equal inputs give equal
        # hashes on any machine and on every rerun.
        environment = {
            "packages": package_versions(),
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "machine": platform.machine(),
            "timings": timings,
        }
        for t in self.tmp.values():
            write_json(t / "manifest.json", manifest)
            write_json(t / ENVIRONMENT, environment)
        for o, t in self.tmp.items():
            final = self.final[o]
            if final.exists():
                shutil.rmtree(final)
            os.replace(t, final)
        self.committed = True

    def __exit__(self, exc_type, exc, tb) -> None:
        for t in self.tmp.values():
            shutil.rmtree(t, ignore_errors=True)
        if exc_type is None and not self.committed:
            raise RuntimeError(f"stage {self.stage}: outputs were never committed")


def params_dump(*sections: str) -> dict[str, Any]:
    """The validated values of the sections a stage read, for its manifest."""
    return {s: load_section(s).model_dump(mode="json") for s in sections}


_OUR_DIRS = tuple(
    str(Path(__file__).resolve().parents[n] / sub) + os.sep for n, sub in ((1, ""), (2, "stages"))
)  # pipeline/ and stages/


def _ours(filename: str) -> bool:
    return str(Path(filename).resolve()).startswith(_OUR_DIRS)


def is_bad_input(exc: BaseException) -> bool:
    """A user-facing input error: ParamsError anywhere, or ValueError / FileNotFoundError raised
    by our own code (its innermost frame is in pipeline/ or stages/). A ValueError from deep
    inside a library is a bug to debug, so it keeps its traceback."""
    from pipeline.config import ParamsError

    if isinstance(exc, ParamsError):
        return True
    if not isinstance(exc, (ValueError, FileNotFoundError)):
        return False
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return last is not None and _ours(last.tb_frame.f_code.co_filename)


def one_line(exc: BaseException) -> str:
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}"


class _NoTracebackForBadInput(logging.Filter):
    """Prefect logs a failed flow/task with its traceback; for a bad input that buries the one
    line that matters, so keep the message and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and is_bad_input(exc):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_bad_input_tracebacks() -> None:
    """Install the filter on Prefect's run loggers (idempotent). Called when ``stages`` is
    imported, so process-pool workers (which import the stage module) get it too."""
    for logger_name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, _NoTracebackForBadInput) for f in logger.filters):
            logger.addFilter(_NoTracebackForBadInput())


def run_stage(flow: Callable[[], Any]) -> None:
    """Entry point of ``python -m stages.<name>``: task runner from ``runtime``, then the flow.

    A bad input (see ``is_bad_input``) ends the stage with one line on stderr and exit code 2."""
    from pipeline.config import ParamsError
    from pipeline.orchestration.runners import make_task_runner

    name = getattr(flow, "name", "stage")
    try:
        rt = load_section("runtime")
        runner = make_task_runner(rt)
    except ParamsError as e:
        print(f"ERROR: stage {name}: bad params: {one_line(e)}", file=sys.stderr)
        sys.exit(2)
    quiet_bad_input_tracebacks()
    with prefect_api():
        try:
            flow.with_options(task_runner=runner)()
        except Exception as e:
            if not is_bad_input(e):
                raise
            print(f"ERROR: stage {name}: {one_line(e)}", file=sys.stderr, flush=True)
            sys.exit(2)


@contextlib.contextmanager
def prefect_api():
    """Use the server in PREFECT_API_URL, else one temporary server for the whole stage whose URL
    worker processes inherit; otherwise each process-pool worker starts its own (~6 s each) and
    its task runs never reach the stage's flow run."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = SubprocessASGIServer()
    server.start(timeout=int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")))
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield
    finally:
        _drain_prefect_workers()
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


def _drain_prefect_workers() -> None:
    """Send queued logs and events before the temporary server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=10)
        except Exception:  # best effort: the stage's outputs are already committed
            pass
