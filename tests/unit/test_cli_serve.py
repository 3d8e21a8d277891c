"""``ostinato --help`` / ``--version``, and the server settings that make the UI follow its port
(the browser check itself is tests/e2e/test_ui_browser.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import __version__
from pipeline.orchestration.server import server_env

pytestmark = pytest.mark.unit


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=120)


def test_help_says_what_ostinato_does():
    r = cli("--help")
    assert r.returncode == 0
    head = r.stdout.split("positional arguments")[0]
    assert "music" in head and "pipeline" in head.lower()
    assert "`" not in r.stdout and "pipeline/" not in r.stdout and "``" not in r.stdout
    for command in ("data", "params", "serve"):
        assert command in r.stdout


def test_version():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"ostinato {__version__}"


def test_server_settings_follow_host_and_port(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # a client setting: dropped
    monkeypatch.setenv("PREFECT_UI_API_URL", "http://127.0.0.1:4200/api")  # a stale alias: dropped
    env = server_env(tmp_path, "127.0.0.1", 4321)
    assert "PREFECT_API_URL" not in env and "PREFECT_UI_API_URL" not in env
    assert env["PREFECT_SERVER_UI_API_URL"] == "http://127.0.0.1:4321/api"
    assert (env["PREFECT_SERVER_API_HOST"], env["PREFECT_SERVER_API_PORT"]) == ("127.0.0.1", "4321")
    assert server_env(tmp_path, "::1", 4400)["PREFECT_SERVER_UI_API_URL"] == "http://[::1]:4400/api"
    # what Prefect itself makes of that environment: the URL /ui-settings hands to the browser
    from prefect.settings import Settings

    for key in list(os.environ):
        if key.startswith("PREFECT_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("PREFECT_"):
            monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.server.ui.api_url == "http://127.0.0.1:4321/api"
    assert settings.server.api.port == 4321
