"""``ostinato demo`` as a user sees it, in headless Debian Chromium: on the micro DAG's tiny models,
each family's tab generates (Aria continues an uploaded MIDI, GnM and NotaGen from the page's
lists, MIDI-VALLE plays an uploaded MIDI in the DAG's prompt recording); the page fetches back
the MIDI download and the FluidSynth WAV (and the VALL-E WAV on its tab), checked by their bytes,
and shows a piano roll. The micro NotaGen model (2 steps) never ends a piece, so there only its
ABC download is checked. A non-MIDI upload gets its one-line error on the page, and Cancel stops
a running generation. The "also render with VALL-E" box is unticked on the other tabs to keep
the test short. Skips without /usr/bin/chromium or gradio (the ``demo`` extra).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import Browser, chromium_available  # noqa: E402
from ui_copy import free_port  # noqa: E402

pytestmark = [
    pytest.mark.pipeline,
    pytest.mark.skipif(not chromium_available(), reason="chromium not installed (make setup installs it as root)"),
    pytest.mark.skipif(
        importlib.util.find_spec("gradio") is None, reason="gradio not installed: pip install -e '.[demo]'"
    ),
]


def tiny_midi(path: Path, seconds: float = 4.0) -> Path:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    for i in range(int(seconds * 2)):
        piano.notes.append(pretty_midi.Note(velocity=80, pitch=60 + (i * 7) % 12, start=i * 0.5, end=i * 0.5 + 0.45))
    pm.instruments.append(piano)
    pm.write(str(path))
    return path


def start_demo(repo: Path, workdir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # = `ostinato demo`, run from the repo copy's own code whatever the venv's editable install points at
    cmd = [sys.executable, "-m", "pipeline.cli", "demo", "--port", str(port), "--workdir", str(workdir)]
    with open(log, "w") as fh:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, cwd=repo, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while f"Running on local URL:  {url}".rstrip("/") not in log.read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"ostinato demo did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return proc, url


class Page:
    """The demo page in Chromium, addressed by the elem_ids ``pipeline/demo/page.py`` gives."""

    def __init__(self, browser: Browser, url: str):
        self.b, self.url = browser, url
        self.open()

    def open(self) -> None:
        """(Re)load the page: a new session with empty fields."""
        self.b.goto(self.url)
        self.b.wait("!!document.querySelector('#aria-go')", 60, "the demo page")

    def tab(self, fam: str) -> None:
        self.b.click(f"document.querySelector('#tab-{fam}-button')", 10, f"the {fam} tab")
        self.b.wait(f"!!document.querySelector('#{fam}-go')", 10, f"the {fam} panel")

    def upload(self, elem: str, path: Path) -> None:
        found = self.b.call("Runtime.evaluate", expression=f"document.querySelector('#{elem} input[type=file]')")
        self.b.call("DOM.setFileInputFiles", files=[str(path)], objectId=found["result"]["objectId"])
        self.b.wait(f"document.querySelector('#{elem}').innerText.includes({path.stem!r})", 30, f"{path.name} uploaded")

    def fill(self, elem: str, value) -> None:
        """Replace a number or text field's value as typing would."""
        field = f"document.querySelector('#{elem} input, #{elem} textarea')"
        self.b.js(f"(() => {{ const el = {field}; el.focus(); el.select(); }})()")
        self.b.type(str(value))
        self.b.js(f"{field}.blur()")

    def uncheck(self, elem: str) -> None:
        if self.b.js(f"!!document.querySelector('#{elem} input')?.checked"):
            self.b.click(f"document.querySelector('#{elem} input')", 10, elem)

    def status(self, fam: str) -> str:
        return self.b.js(f"document.querySelector('#{fam}-status textarea').value") or ""

    def generate(self, fam: str, until: str = "done|error: ", timeout: float = 90) -> str:
        self.b.click(f"document.querySelector('#{fam}-go')", 10, f"{fam} Generate")
        self.b.wait(f"/(^|\\n)({until})/.test(document.querySelector('#{fam}-status textarea').value)", timeout, until)
        return self.status(fam)

    def fetched(self, selector: str) -> list[tuple[str, bytes]]:
        """(name, first bytes) of each download link under ``selector``, fetched by the page itself."""
        got = self.b.js(
            f"""Promise.all(Array.from(document.querySelectorAll({selector!r})).map(async a => {{
                const buf = new Uint8Array(await (await fetch(a.href)).arrayBuffer());
                return [a.download || a.href, Array.from(buf.slice(0, 4)), buf.length]; }}))"""
        )
        return [(name, bytes(head)) for name, head, size in got if size > 0]

    def check_result(self, fam: str, valle: bool = False) -> None:
        files = self.fetched(f"#{fam}-files a[download]")
        assert any(n.endswith(".mid") and h == b"MThd" for n, h in files), f"{fam}: no MIDI download in {files}"
        audio = self.fetched(f"#{fam}-audio a[download]")
        assert audio and audio[0][1] == b"RIFF", f"{fam}: no FluidSynth WAV ({audio})"
        if valle:
            sung = self.fetched(f"#{fam}-valle-audio a[download]")
            assert sung and sung[0][1] == b"RIFF", f"{fam}: no VALL-E WAV ({sung})"
        notes = re.findall(r"(\d+) notes", self.status(fam))
        if not notes or int(notes[-1]) > 0:  # an empty piece has nothing to draw
            assert self.b.js(f"!!document.querySelector('#{fam}-roll img')"), f"{fam}: no piano roll"


@pytest.fixture(scope="module")
def demo_page(micro_dag, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    proc, url = start_demo(micro_dag.path, tmp / "work", tmp / "demo.log")
    browser = Browser(tmp / "chromium")
    try:
        yield Page(browser, url), tmp
    finally:
        browser.close()
        proc.terminate()
        proc.wait(30)


@pytest.mark.timeout(300, func_only=True)  # not the shared micro build
def test_every_family_generates_in_the_browser(demo_page):
    page, tmp = demo_page
    t0, took = time.time(), {}
    prompt = tiny_midi(tmp / "prompt.mid")

    page.upload("aria-prompt", prompt)
    page.fill("aria-length", 48)
    page.uncheck("aria-use-valle")
    took["aria"] = _timed(lambda: page.generate("aria"))
    page.check_result("aria")

    page.tab("gnm")
    page.fill("gnm-seed", 0)
    page.uncheck("gnm-use-valle")
    took["gnm"] = _timed(lambda: page.generate("gnm"))
    page.check_result("gnm")

    page.tab("notagen")
    page.fill("notagen-chars", 300)
    page.uncheck("notagen-use-valle")
    t = time.time()
    text = page.generate("notagen")
    took["notagen"] = round(time.time() - t, 1)
    files = page.fetched("#notagen-files a[download]")
    if re.search("(^|\n)error: ", text):  # the micro model (2 steps) never ends a piece: only its ABC
        assert [h[:1] for n, h in files if n.endswith(".abc")] in ([b"%"], [b"X"]), files
    else:
        page.check_result("notagen")
        assert {n.rsplit(".", 1)[-1] for n, _ in files} >= {"abc", "musicxml"}, files

    page.tab("valle")
    page.upload("valle-midi", tiny_midi(tmp / "short.mid", 1.0))
    took["valle"] = _timed(lambda: page.generate("valle", timeout=120))
    page.check_result("valle", valle=True)
    print(f"generation seconds per family: {took}; whole test {time.time() - t0:.0f} s")


def _timed(step) -> float:
    t = time.time()
    text = step()
    assert not re.search("(^|\n)error: ", text), text
    return round(time.time() - t, 1)


@pytest.mark.timeout(120, func_only=True)
def test_a_bad_upload_is_named_and_a_generation_can_be_cancelled(demo_page):
    page, tmp = demo_page
    page.open()
    bad = tmp / "notes.mid"
    bad.write_text("these are not MIDI bytes\n")
    page.upload("aria-prompt", bad)
    text = page.generate("aria", until="error: ")
    assert "error: notes.mid: not a MIDI file" in text, text

    page.open()
    page.upload("aria-prompt", tiny_midi(tmp / "long.mid"))
    page.fill("aria-length", 100000)
    page.b.click("document.querySelector('#aria-go')", 10, "aria Generate")
    page.b.wait("/generate: +\\d+%/.test(document.querySelector('#aria-status textarea').value)", 60, "progress")
    page.b.click("document.querySelector('#aria-cancel')", 10, "Cancel")
    page.b.wait("/\\ncancelled$/.test(document.querySelector('#aria-status textarea').value)", 20, "cancelled")
