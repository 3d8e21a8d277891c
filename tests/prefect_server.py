"""One loopback Prefect API server for the whole test session, started on first use and stopped
at exit. Each stage run otherwise starts its own temporary server (~5 s of CPU each; a session
runs ~100 stages). ``tests/unit/test_stage_errors.py`` keeps one stage on its own temporary server,
the path a user's ``dvc repro`` takes."""

from __future__ import annotations

import atexit
import socket
import tempfile
from pathlib import Path

from pipeline.orchestration.server import PrefectServer, start_server

_server: PrefectServer | None = None


def shared_prefect_url() -> str:
    global _server
    if _server is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        root = Path(tempfile.mkdtemp(prefix="ostinato-test-prefect-"))
        _server = start_server(root, port=port, services=False)  # flow runs only: no scheduler
        atexit.register(_server.stop)
    return _server.url
