"""``ostinato repro [DVC ARGS]``: validate params.yaml, then ``dvc repro`` with every stage reporting
to one Prefect API server. A stage without ``PREFECT_API_URL`` starts a temporary server of its
own (~5-10 s each, about 5 of the default build's minutes); here one is shared: the UI's
(``ostinato serve``) when it answers on the default port, else a light loopback one for this run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from pipeline.commands.params import report_defaults
from pipeline.config import repo_root, validate_all


def add_arguments(p) -> None:
    p.add_argument("dvc_args", nargs="*", help="passed to dvc repro (e.g. a stage name, --force); put them after --")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args) -> int:
    from pipeline.orchestration.server import (
        DEFAULT_HOST,
        DEFAULT_PORT,
        PrefectServer,
        api_url,
        server_healthy,
        start_server,
    )

    root = repo_root()
    # DVC deletes a stage's outputs before the stage reads params: refuse a bad file first
    report_defaults(list(validate_all(root / "params.yaml")))
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        ui = api_url(DEFAULT_HOST, DEFAULT_PORT)
        server = (
            PrefectServer(url=ui, started=False)
            if server_healthy(ui)
            else start_server(root, port=_free_port(), services=False)
        )
        server.export()
        print(f"ostinato repro: stages report to the Prefect API at {server.url}", flush=True)
    try:
        dvc = Path(sys.executable).parent / "dvc"  # this venv's, also when it is not activated
        return subprocess.call([str(dvc) if dvc.exists() else "dvc", "repro", *args.dvc_args], cwd=root)
    finally:
        if server is not None:
            server.stop()
