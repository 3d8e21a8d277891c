"""The UI as a user sees it, in a real browser: ``ostinato serve --port <free port>`` (not 4200),
then headless Chromium opens the page serve prints, goes Deployments -> repro -> Run -> Custom
run, types ``set_params`` and ``targets`` into the form, submits, and waits until the run shows
Completed. The page's API URL must follow the chosen port (the UI once called 4200 and showed
"Can't connect to Server API").

The run is real but small: ``dvc exp run --temp -S ingest.limits.min_notes=4 ingest`` on a copy
of the repo whose ingest source is three tiny MIDI files. Measured: about 100 s on 2 busy cores
(server start ~50 s under load, ~10 s idle; the run ~20 s). Skips without /usr/bin/chromium.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import Browser, chromium_available  # noqa: E402
from ui_copy import api, free_port, ui_repo_copy  # noqa: E402

BIN = Path(sys.executable).parent
OVERRIDE = "ingest.limits.min_notes=4"
RUN_NAME = f"repro[temp] {OVERRIDE} ingest"  # deploy._run_name of this custom run

pytestmark = [
    pytest.mark.pipeline,
    pytest.mark.skipif(
        not chromium_available(),
        reason="chromium not installed (make setup installs it when root: apt-get install chromium)",
    ),
]


def tiny_midis(folder: Path, n: int = 3) -> None:
    import pretty_midi

    folder.mkdir(parents=True)
    for k in range(n):
        pm = pretty_midi.PrettyMIDI(initial_tempo=120)
        inst = pretty_midi.Instrument(program=0)
        for i in range(16 + 4 * k):
            inst.notes.append(
                pretty_midi.Note(velocity=80, pitch=60 + (i * 5 + k) % 12, start=i * 0.5, end=i * 0.5 + 0.45)
            )
        pm.instruments.append(inst)
        pm.write(str(folder / f"piece{k}.mid"))


def wait_until(pred, timeout: float, what: str, serve: subprocess.Popen, log: Path):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if serve.poll() is not None:
            pytest.fail(f"{what}: serve exited with {serve.returncode}:\n{log.read_text()[-3000:]}")
        try:
            value = pred()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{log.read_text()[-3000:]}")


def by_text(selector: str, text: str, index: int = 0) -> str:
    """JS: the index-th visible element matching selector whose text is exactly ``text``."""
    return (
        f"Array.from(document.querySelectorAll({selector!r})).filter(e => e.offsetParent && "
        f"e.innerText.trim() === {text!r})[{index}]"
    )


@pytest.mark.timeout(480)
def test_custom_run_from_the_browser_on_a_non_default_port(tmp_path: Path) -> None:
    t0 = time.time()
    repo = tmp_path / "repo"
    tiny_midis(tmp_path / "midi")
    env = ui_repo_copy(repo, tmp_path / "midi")
    port = free_port()
    ui, base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api"
    log = tmp_path / "serve.log"
    with open(log, "w") as fh:
        serve = subprocess.Popen(
            [str(BIN / "python"), "-m", "pipeline.cli", "serve", "--port", str(port)],
            cwd=repo,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    browser = None
    try:
        wait_until(lambda: api(base, "/deployments/name/repro/repro"), 240, "the repro deployment", serve, log)
        assert f"Open {ui}/deployments" in log.read_text()
        t_ready = time.time()

        browser = Browser(tmp_path / "chromium")
        browser.goto(f"{ui}/deployments")
        # the page asks its server where the API is: it must be this port, not 4200
        settings = browser.wait("fetch('/ui-settings').then(r => r.json())", 60, "ui-settings")
        assert settings["api_url"] == base, settings
        # the deployments list is loaded from that API: the page reached its server
        browser.click(
            "Array.from(document.querySelectorAll('a')).find(a => a.innerText.trim() === 'repro' "
            "&& a.href.includes('/deployments/deployment/'))",
            90,
            "the repro deployment link",
        )
        browser.click(by_text("button", "Run"), 60, "the Run button")
        browser.click(by_text("a, button", "Custom run"), 30, "Run > Custom run")
        browser.click(by_text("button", "Add item", 0), 60, "set_params > Add item")
        browser.click("document.querySelectorAll('textarea')[0]", 30, "the set_params entry")
        browser.type(OVERRIDE)
        browser.click(by_text("button", "Add item", 1), 30, "targets > Add item")
        browser.click("document.querySelectorAll('textarea')[1]", 30, "the targets entry")
        browser.type("ingest")
        typed = browser.js("Array.from(document.querySelectorAll('textarea')).map(t => t.value)")
        assert typed == [OVERRIDE, "ingest"], typed
        browser.click(by_text("button", "Submit"), 30, "Submit")
        t_submit = time.time()

        # the run appears in the deployment's runs and reaches Completed, as the page shows it
        shown = browser.wait(
            f"""(() => {{ const t = document.body.innerText;
            const i = t.indexOf({RUN_NAME!r}); if (i < 0) return null;
            const s = t.slice(i, i + 200).match(/Completed|Failed|Crashed|Cancelled/);
            return s ? s[0] : null; }})()""",
            300,
            "the custom run to finish in the UI",
        )
        t_done = time.time()
        dep = api(base, "/deployments/name/repro/repro")
        runs = api(base, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [dep["id"]]}}})
        assert len(runs) == 1, runs
        run = runs[0]
        logs = [
            x["message"]
            for x in api(
                base,
                "/logs/filter",
                {"logs": {"flow_run_id": {"any_": [run["id"]]}}, "sort": "TIMESTAMP_ASC", "limit": 200},
            )
        ]
        assert shown == "Completed" and run["state"]["type"] == "COMPLETED", "\n".join(logs[-40:])
        assert run["parameters"] == {"set_params": [OVERRIDE], "targets": ["ingest"], "temp": True}, run
        text = "\n".join(logs)
        assert "Running stage 'ingest'" in text and "Ran experiment(s)" in text, text[-3000:]

        # the experiment is recorded with the value typed in the browser
        out = subprocess.run(
            [str(BIN / "dvc"), "exp", "show", "--json"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        assert '"min_notes": 4' in json.dumps(json.loads(out)), out[:3000]
        print(
            f"\n[browser ui timings] serve ready {t_ready - t0:.1f} s, form filled {t_submit - t_ready:.1f} s, "
            f"custom run completed {t_done - t_submit:.1f} s, total {time.time() - t0:.1f} s"
        )
    finally:
        if browser is not None:
            browser.close()
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait(5)
