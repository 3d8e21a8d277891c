"""Prefect environment defaults, applied before prefect is imported.

Offline machines: analytics off (telemetry errors otherwise). A PREFECT_API_URL whose server
does not answer would fail every stage, so we drop it and run ephemerally, with a warning.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def server_healthy(api_url: str, timeout: float = 1.5) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def prepare_prefect_env(root: Path | None = None) -> None:
    root = root or Path.cwd()
    env = os.environ
    env.setdefault("PREFECT_HOME", str(root / ".prefect"))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    env.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    env.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    env.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    # Idle OpenMP threads sleep instead of spinning: on a shared or oversubscribed CPU, spinning
    # threads made small torch ops (decoding) up to 50x slower. Must be set before torch loads.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    url = env.get("PREFECT_API_URL")
    if url and not server_healthy(url):
        print(f"[ostinato] PREFECT_API_URL={url} does not answer; running this stage ephemerally", file=sys.stderr)
        del env["PREFECT_API_URL"]
