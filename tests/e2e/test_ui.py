"""The UI path end to end: ``ostinato serve`` on a free loopback port, two ``repro`` triggers at
once through the REST API, both recorded as DVC experiments with their own params, and only
the stage that reads the changed param rerun.

Runs on a copy of the repo (tracked files, as in the working tree) with a tiny ``midi_dir``
ingest source, its own git history, DVC cache and ``.prefect``. About 2 minutes on 2 cores.
The two small ``unit`` tests check override validation and the child environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_copy import REPO, api, free_port, ui_repo_copy  # noqa: E402

BIN = Path(sys.executable).parent
DEADLINE_S = 200  # both triggered runs must finish within this


def write_midis(folder: Path, n: int = 3) -> None:
    import pretty_midi

    folder.mkdir(parents=True)
    for k in range(n):
        pm = pretty_midi.PrettyMIDI(initial_tempo=120)
        inst = pretty_midi.Instrument(program=0)
        t = 0.0
        while t < 33.0 + 4 * k:  # 33-41 s: segments of 15-20 s leave tails that drop_under_s decides
            for pitch in (60 + k, 64 + k, 67 + k):
                inst.notes.append(pretty_midi.Note(velocity=80, pitch=pitch, start=t, end=t + 0.45))
            t += 0.5
        pm.instruments.append(inst)
        pm.write(str(folder / f"piece{k}.mid"))


def sh(cmd: list[str], cwd: Path, env: dict, timeout: float = 240) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def tiny_render(params: dict) -> None:
    params["render_audio"]["max_pieces"] = 3
    params["render_audio"]["conditions"] = {"dry": {"soundfont": "default", "gain": 0.5}}


def wait_for(pred, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: serve exited with {proc.returncode}:\n{log.read_text()[-3000:] if log else ''}")
        try:
            value = pred()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{log.read_text()[-3000:] if log else ''}")


def run_logs(base: str, run_id: str) -> list[str]:
    logs = api(
        base, "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_DESC", "limit": 200}
    )
    return [x["message"] for x in reversed(logs)]  # the newest 200 lines, oldest first


@pytest.mark.unit
def test_overrides_are_validated_before_dvc_runs(tmp_path: Path) -> None:
    from pipeline.orchestration.deploy import OverrideError, validate_overrides, validate_targets

    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"segment": {"cmd": "true"}}}))
    assert validate_overrides(["segment.drop_under_s=2.0", "params.yaml:segment.max_s = 18"], tmp_path) == [
        "segment.drop_under_s=2.0",
        "segment.max_s=18",
    ]
    for bad, says in [
        ("segment.drop_under_s", "expected key=value"),
        ("segment.drop_undr_s=2", "key 'segment.drop_undr_s' is not in"),
        ("segmnt.min_s=2", "sections are"),
        ("segment.drop_under_s=-1", "greater than or equal to 0"),
        ("segment.min_s=[1", "not valid YAML"),
    ]:
        with pytest.raises(OverrideError, match=re.escape(says)):
            validate_overrides([bad], tmp_path)
    assert validate_targets(["segment", "dvc.yaml:segment"], tmp_path)
    with pytest.raises(OverrideError, match="not a stage"):
        validate_targets(["segmnt"], tmp_path)


@pytest.mark.unit
def test_child_env_and_command() -> None:
    from pipeline.orchestration.deploy import build_command, child_env
    from pipeline.orchestration.server import api_url, is_loopback, start_server

    env = child_env(
        {
            "PATH": "/usr/bin",
            "PREFECT__FLOW_RUN_ID": "x",
            "PREFECT__CONTROL_TOKEN": "t",
            "PREFECT_API_URL": "http://127.0.0.1:1/api",
            "OSTINATO_ROOT": "/elsewhere",
        }
    )
    assert "PREFECT__FLOW_RUN_ID" not in env and "PREFECT__CONTROL_TOKEN" not in env and "OSTINATO_ROOT" not in env
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:1/api" and env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].split(os.pathsep)[0] == str(BIN)
    assert build_command(["a.b=1"], ["segment"], True)[1:] == ["exp", "run", "--temp", "-S", "a.b=1", "segment"]
    assert "--temp" not in build_command([], [], False)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert api_url("0.0.0.0", 4300) == "http://127.0.0.1:4300/api"
    with pytest.raises(ValueError, match="--allow-remote"):
        start_server(REPO, port=free_port(), host="0.0.0.0")


@pytest.mark.pipeline
@pytest.mark.timeout(300)
def test_ui_two_concurrent_triggers(tmp_path: Path) -> None:
    t_start = time.time()
    repo = tmp_path / "repo"
    write_midis(tmp_path / "midi")
    env = ui_repo_copy(repo, tmp_path / "midi", tiny_render)
    port = free_port()
    base = f"http://127.0.0.1:{port}/api"
    log = tmp_path / "serve.log"
    with open(log, "w") as fh:
        serve = subprocess.Popen(
            [str(BIN / "python"), "-m", "pipeline.cli", "serve", "--port", str(port)],
            cwd=repo,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        # the deployment exists once serve registered it
        dep = wait_for(lambda: api(base, "/deployments/name/repro/repro"), 90, "the repro deployment", serve, log)
        t_ready = time.time()
        assert f"Prefect UI: http://127.0.0.1:{port}" in log.read_text()
        # build the cheap baseline through the served server, then commit the lock
        sh([str(BIN / "dvc"), "repro", "segment"], repo, {**env, "PREFECT_API_URL": base})
        sh(["git", "add", "dvc.lock"], repo, env)
        sh(["git", "commit", "-q", "-m", "baseline"], repo, env)
        t_base = time.time()

        runs = {
            v: api(
                base,
                f"/deployments/{dep['id']}/create_flow_run",
                {"parameters": {"set_params": [f"segment.drop_under_s={v}"], "targets": ["segment"]}},
            )
            for v in ("2.0", "4.0")
        }
        t_trig = time.time()

        def all_final():
            states = {v: api(base, f"/flow_runs/{r['id']}")["state"] for v, r in runs.items()}
            return (
                states
                if all(s["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values())
                else None
            )

        states = wait_for(all_final, DEADLINE_S, "both repro runs", serve, log)
        t_done = time.time()

        # a run's last log lines reach the API a moment after its final state (shipped in batches)
        def complete_logs():
            got = {v: run_logs(base, r["id"]) for v, r in runs.items()}
            return got if all(any("Ran experiment(s)" in ln for ln in ls) for ls in got.values()) else None

        try:
            logs = wait_for(complete_logs, 60, "the runs' last log lines", serve, log)
        except pytest.fail.Exception:  # the asserts below then show what did arrive
            logs = {v: run_logs(base, r["id"]) for v, r in runs.items()}
        for v, s in states.items():
            assert s["type"] == "COMPLETED", f"run {v}: {s}\n" + "\n".join(logs[v][-40:])

        # each experiment recorded with its own value; the workspace untouched (--temp)
        exps = json.loads(sh([str(BIN / "dvc"), "exp", "show", "--json"], repo, env))
        values = []
        for rev in exps:
            for e in rev.get("experiments") or []:
                for ex in e.get("revs") or []:
                    p = ((ex.get("data") or {}).get("params") or {}).get("params.yaml", {}).get("data", {})
                    values.append(p.get("segment", {}).get("drop_under_s"))
        assert sorted(v for v in values if v is not None) == [2.0, 4.0], json.dumps(exps)[:3000]
        assert yaml.safe_load((repo / "params.yaml").read_text())["segment"]["drop_under_s"] == 3.0
        assert sh(["git", "status", "--porcelain", "--untracked-files=no"], repo, env).strip() == ""

        # only the stage reading segment.* reran; upstream stages were skipped
        for lines in logs.values():
            text = "\n".join(lines)
            assert "Running stage 'segment'" in text, text[-3000:]
            assert "Running stage 'ingest'" not in text and "Running stage 'render_audio'" not in text, text
            assert "Stage 'render_audio' didn't change, skipping" in text, text[-3000:]
            assert "Ran experiment(s)" in text, text[-3000:]
        print(
            f"\n[ui timings] serve ready {t_ready - t_start:.1f} s, baseline {t_base - t_ready:.1f} s, "
            f"2 triggers -> both completed {t_done - t_trig:.1f} s"
        )
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait(5)
    # serve stopped the server it started
    time.sleep(0.5)
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/health", timeout=2)
    assert "Prefect server stopped." in log.read_text()
