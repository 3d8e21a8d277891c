"""What both UI tests set up: a free loopback port, a repo copy whose ingest reads a folder of tiny
MIDI files (its own git history, DVC cache and ``.prefect``), and the Prefect REST API."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert port != 4200  # the default port: the tests must prove a non-default one works
    return port


def ui_repo_copy(dst: Path, midi_dir: Path, params_edit=None) -> dict:
    """Tracked and untracked (not ignored) files with a ``midi_dir`` ingest source; returns the
    environment to run ``ostinato serve`` / ``dvc`` in the copy with. ``params_edit(params)`` may
    change the loaded params.yaml before it is written back."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = REPO / rel
        if src.is_file() and not rel.startswith(("data/", "models/", "reports/")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    (dst / "dvc.lock").unlink(missing_ok=True)  # its entries point at outputs this copy's cache lacks
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["ingest"]["sources"] = [{"kind": "midi_dir", "name": "tiny", "path": str(midi_dir)}]
    params["runtime"]["task_runner"] = "threads"
    if params_edit:
        params_edit(params)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT") and k != "OSTINATO_ROOT"}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PREFECT_HOME=str(dst / ".prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
        PYTHONUNBUFFERED="1",
    )
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "copy"]):
        subprocess.run(cmd, cwd=dst, env=env, check=True, capture_output=True)
    return env


def api(base: str, path: str, body: dict | None = None, method: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path,
        data=data,
        method=method or ("POST" if data else "GET"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")
