"""A local Prefect server for the UI: start one (or reuse the one already answering), wait until
``/api/health`` answers, and only then export ``PREFECT_API_URL`` to child processes.

A ``PREFECT_API_URL`` that points at a dead server fails every stage, so it is never exported
before the health check passes. The server keeps its database under ``<repo>/.prefect``
(gitignored) and runs with analytics off (offline telemetry errors otherwise).
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.orchestration.env import server_healthy

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
# The server re-offers a run that waited for the deployment's concurrency slot after this many
# seconds (Prefect's default is 30); runners poll for work this often (default 10).
SLOT_WAIT_S = "5"
POLL_S = "2"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_url(host: str, port: int) -> str:
    """The URL clients use; a wildcard bind is reached through loopback."""
    reach = DEFAULT_HOST if host in ("0.0.0.0", "::", "") else host
    if ":" in reach:
        reach = f"[{reach}]"
    return f"http://{reach}:{port}/api"


def server_env(root: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> dict[str, str]:
    """Environment of the server process (and defaults for its clients).

    The browser UI asks the server (``/ui-settings``) where its API is; the server answers from
    its own settings, which ``prefect server start --port`` does not change (it answered
    ``http://127.0.0.1:4200/api`` for a server on 4321). So the bind address and the UI's API URL
    are set as settings too."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)  # the server itself must not point at another server
    env.pop("PREFECT_UI_API_URL", None)  # an alias of the setting below; the one we set must win
    env["PREFECT_SERVER_API_HOST"] = host
    env["PREFECT_SERVER_API_PORT"] = str(port)
    env["PREFECT_SERVER_UI_API_URL"] = api_url(host, port)
    env["PREFECT_HOME"] = str(root / ".prefect")
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.setdefault("PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS", SLOT_WAIT_S)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def ui_api_url(url: str, timeout: float = 3.0) -> str | None:
    """The API URL the server tells its browser UI to call (``/ui-settings``); None if unknown."""
    try:
        with urllib.request.urlopen(url.removesuffix("/api") + "/ui-settings", timeout=timeout) as r:
            return json.loads(r.read()).get("api_url")
    except (OSError, ValueError):
        return None


@dataclass
class PrefectServer:
    """A running (started or reused) server. ``stop()`` only stops a server we started."""

    url: str
    started: bool
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    startup_s: float = 0.0
    _stopped: bool = field(default=False, repr=False)

    @property
    def ui_url(self) -> str:
        return self.url.removesuffix("/api")

    def export(self, env: dict | None = None) -> None:
        """Point this process (and every child it starts) at the healthy server."""
        env = os.environ if env is None else env
        env["PREFECT_API_URL"] = self.url
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        env.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", POLL_S)

    def stop(self, timeout: float = 15.0) -> None:
        if not self.started or self.process is None or self._stopped:
            return
        self._stopped = True
        if self.process.poll() is not None:
            return
        try:  # the server runs in its own session: signal its whole group (uvicorn, services)
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def start_server(
    root: Path,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    timeout: float = 120.0,
    allow_remote: bool = False,
    services: bool = True,
) -> PrefectServer:
    """Reuse a healthy server on ``port`` or start ``prefect server start`` and wait for health.
    ``services=False`` runs the API alone (no scheduler, no event persistence: task runs are not
    recorded), a light server for flow runs only, e.g. one shared by a test session."""
    if not is_loopback(host) and not allow_remote:
        raise ValueError(
            f"refusing to bind the Prefect server to non-loopback host {host!r}: "
            "the UI has no authentication and can run commands in this repo; "
            "pass --allow-remote if you really mean it"
        )
    root = Path(root).resolve()
    url = api_url(host, port)
    if server_healthy(url):
        seen = ui_api_url(url)
        if seen and seen.rstrip("/") != url:
            print(
                f"WARNING: the server already answering on port {port} tells its UI to call {seen}, "
                f"not {url}: its pages will not load. Stop it, or pick another --port.",
                file=sys.stderr,
                flush=True,
            )
        return PrefectServer(url=url, started=False)
    (root / ".prefect").mkdir(exist_ok=True)
    log_path = root / ".prefect" / f"server-{port}.log"
    prefect_bin = Path(sys.executable).parent / "prefect"
    cmd = [
        str(prefect_bin) if prefect_bin.exists() else "prefect",
        "server",
        "start",
        "--host",
        host,
        "--port",
        str(port),
        "--analytics-off",
    ] + ([] if services else ["--no-services"])
    t0 = time.perf_counter()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=server_env(root, host, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = PrefectServer(url=url, started=True, process=proc, log_path=log_path)
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"prefect server exited with {proc.returncode} before it was healthy "
                f"(port {port} in use?); log {log_path}:\n{tail}"
            )
        if server_healthy(url, timeout=1.0):
            server.startup_s = time.perf_counter() - t0
            seen = ui_api_url(url)
            if seen and seen.rstrip("/") != url:
                server.stop()
                raise RuntimeError(f"the Prefect UI on port {port} would call {seen} instead of {url}")
            return server
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"prefect server on {url} not healthy after {timeout:.0f} s; see {log_path}")
