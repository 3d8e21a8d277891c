"""Copy the working tree (tracked + untracked, not ignored) into a temp git repo, so a
pipeline test runs the real ``dvc repro`` without touching the developer's workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.prefect_server import shared_prefect_url

ROOT = Path(__file__).resolve().parents[2]


def copy_repo(dest: Path, profile: str | None = "micro") -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for d in ("data", "models", "reports"):
        shutil.rmtree(dest / d, ignore_errors=True)
    (dest / "dvc.lock").unlink(missing_ok=True)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    if profile:
        run([sys.executable, "-m", "pipeline.cli", "params", "profile", profile], dest)
    subprocess.run(git[:1] + ["add", "-A"], cwd=dest, check=True)
    subprocess.run(git + ["commit", "-qm", "copy"], cwd=dest, check=True)
    return dest


def env(shared_server: bool = True) -> dict:
    """The environment of a ``dvc repro`` in a test: this venv first on PATH, analytics off, and
    stages reporting to the session's shared Prefect server (or, with ``shared_server=False``,
    each stage starting its own temporary one, as on a user's machine)."""
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    e.pop("PREFECT_API_URL", None)
    e["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    if shared_server:
        e["PREFECT_API_URL"] = shared_prefect_url()
    return e


def run(cmd: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]
