"""A headless Debian Chromium driven through its DevTools protocol (CDP) over a websocket:
navigate, evaluate JavaScript, click with real mouse events and type with real key input, so
React/Radix widgets (menus open on pointerdown) behave as under a user's hand.

No selenium/chromedriver needed: ``websockets`` (a Prefect dependency) speaks CDP directly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, profile_dir: Path, width: int = 1400, height: int = 1000):
        from websockets.sync.client import connect

        profile_dir.mkdir(parents=True, exist_ok=True)
        (profile_dir / "DevToolsActivePort").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-quic",
                "--disable-background-networking",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile_dir}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile_dir / "DevToolsActivePort"
        deadline = time.time() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise BrowserError("chromium did not open its DevTools port")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.loads(r.read()) if t["type"] == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        self._id = 0
        self.errors: list[str] = []  # uncaught page exceptions, for failure messages
        self.call("Page.enable")
        self.call("Runtime.enable")

    # ------------------------------------------------------------------ protocol
    def call(self, method: str, timeout: float = 60, **params):
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.time() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.time())))
            if msg.get("method") == "Runtime.exceptionThrown":
                d = msg["params"]["exceptionDetails"]
                self.errors.append(str((d.get("exception") or {}).get("description") or d.get("text")))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise BrowserError(f"JS error in {expression[:200]!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait(self, expression: str, timeout: float, what: str):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                value = self.js(expression)
            except BrowserError:
                value = None
            if value:
                return value
            time.sleep(0.5)
        raise BrowserError(
            f"timed out after {timeout:.0f} s waiting for {what}; page text:\n"
            f"{self.text()[-2500:]}\npage errors: {self.errors[-5:]}"
        )

    def text(self) -> str:
        try:
            return self.js("document.body ? document.body.innerText : ''") or ""
        except Exception:  # noqa: BLE001  (only used for failure messages)
            return ""

    # ------------------------------------------------------------------ user input
    def click_at(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=x,
                y=y,
                button="left",
                clickCount=0 if kind == "mouseMoved" else 1,
            )

    def click(self, finder: str, timeout: float, what: str) -> None:
        """Click the centre of the element the JS expression ``finder`` returns (once visible)."""
        rect = self.wait(
            f"""(() => {{ const el = ({finder});
            if (!el) return null; el.scrollIntoView({{block: 'center'}});
            const r = el.getBoundingClientRect();
            return r.width > 0 && r.height > 0 ? [r.x + r.width / 2, r.y + r.height / 2] : null; }})()""",
            timeout,
            what,
        )
        self.click_at(*rect)

    def type(self, text: str) -> None:
        self.call("Input.insertText", text=text)

    def key(self, key: str, code: str, vk: int, modifiers: int = 0) -> None:
        for kind in ("rawKeyDown", "keyUp"):
            self.call(
                "Input.dispatchKeyEvent", type=kind, key=key, code=code, windowsVirtualKeyCode=vk, modifiers=modifiers
            )

    def select_all_and_type(self, text: str) -> None:
        self.key("a", "KeyA", 65, modifiers=2)  # Ctrl+A in the focused field
        self.key("Backspace", "Backspace", 8)
        self.type(text)

    def screenshot(self, path: Path) -> None:
        import base64

        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def chromium_available() -> bool:
    return CHROMIUM.exists() and shutil.which(str(CHROMIUM)) is not None
