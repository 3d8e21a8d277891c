"""The paper profiles build beside the rest of the suite: one background process (started by
tests/conftest.py once the session knows a paper test is selected) builds each family's paper
table in its own micro copy of the repo, one family after the other, while the suite's other tests
run (the unit tests use one core; the builds take the other), at low priority (``nice``) so that
they use what the shared micro build leaves idle rather than slow it. The paper tests, which the
session runs last, wait for their family's result and check it.

A process, not a thread: the writers seed torch and build checkpoints, which must not race the
unit tests' global RNG. Run by hand: ``python tests/e2e/paper_builds.py OUT aria gnm ...``."""

from __future__ import annotations

import atexit
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("aria", "gnm", "notagen", "valle")
_build: dict = {}  # "proc", "out": the session's one background build


def build(family: str, out: Path) -> dict:
    """Copy the repo (micro profile), fill and apply the family's paper profile, ``dvc repro`` its
    table; {repo, filled, ran} as the check needs them."""
    from paper_profile import apply_paper_profile
    from repo_copy import copy_repo, run, stages_run

    paper = importlib.import_module(f"paper_{family}")
    dest = out / family
    dest.mkdir(parents=True)
    repo = copy_repo(dest)
    filled = apply_paper_profile(repo, family, paper.WRITERS, paper.MICRO)
    t0 = time.perf_counter()
    ran = stages_run(run(["dvc", "repro", *paper.TARGETS], repo, timeout=1800).stdout)
    return {"repo": str(repo), "filled": filled, "ran": ran, "repro_s": round(time.perf_counter() - t0, 1)}


def main(out: Path, families: list[str]) -> None:
    for family in families:
        try:
            result = build(family, out)
        except BaseException as e:  # noqa: BLE001 - the test reports it, with the traceback
            result = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-6000:]}
        tmp = out / f"{family}.json.tmp"
        tmp.write_text(json.dumps(result))
        tmp.replace(out / f"{family}.json")


def start(families: list[str], out: Path | None = None) -> None:
    """Start the background build (once per session) into ``out`` (default: a new temp dir)."""
    if _build:
        return
    from repo_copy import env

    out = out or Path(tempfile.mkdtemp(prefix="ostinato-paper-"))
    log = open(out / "build.log", "w")  # noqa: SIM115 - the process writes it until it ends
    proc = subprocess.Popen(
        ["nice", "-n", "15", sys.executable, __file__, str(out), *families],  # dvc and stages inherit it
        cwd=ROOT,
        env=env(),  # the session's shared Prefect server, this venv first on PATH
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed with its dvc and stages at exit
    )
    _build.update(proc=proc, out=out)
    atexit.register(_stop)


def _stop() -> None:
    proc = _build.get("proc")
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)


def result(family: str, timeout: float = 2400) -> dict:
    """The family's build result, waiting for it (starting the build if the session did not)."""
    start([family])
    out, proc = _build["out"], _build["proc"]
    path, deadline = out / f"{family}.json", time.monotonic() + timeout
    while not path.is_file():
        if proc.poll() is not None and not path.is_file():
            raise AssertionError(f"the paper build ended without {family}:\n{(out / 'build.log').read_text()[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the {family} paper build took over {timeout:.0f} s")
        time.sleep(1.0)
    return json.loads(path.read_text())


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "unit"), str(ROOT / "tests" / "e2e")]
    main(Path(sys.argv[1]), sys.argv[2:])
