"""Generations as ``ostinato`` child processes: their output streams to the page, Cancel kills them.

A child process (not a thread) because a cancelled generation must stop using the CPU at once,
and because the page then runs exactly what the CLI runs, options and named errors included.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_RUNNING: dict[str, subprocess.Popen] = {}  # job key (browser session + tab) -> its child
_LOCK = threading.Lock()
_BAR = re.compile(r"^(.*?):\s*\d+%\|")  # a tqdm line: 'label: 42%|...'


class JobError(RuntimeError):
    """A generation that failed: the CLI's one-line error (``ostinato CMD: error: ...``)."""


class Cancelled(RuntimeError):
    pass


def _lines(stream, out: queue.Queue) -> None:
    """Chunks of the child's output, split at newlines and tqdm's carriage returns."""
    buf = b""
    while chunk := stream.read1(4096):
        buf += chunk
        *done, buf = buf.replace(b"\r", b"\n").split(b"\n")
        for line in done:
            if line.strip():
                out.put(line.decode("utf-8", "replace").rstrip())
    if buf.strip():
        out.put(buf.decode("utf-8", "replace").rstrip())
    out.put(None)


def run_cli(argv: list[str], key: str, cwd: Path, timeout_s: float = 3600) -> Iterator[list[str]]:
    """Run ``ostinato ARGV``; yield the output so far (a list of lines) about twice a second.

    Raises JobError with the CLI's error line on failure and Cancelled when ``cancel(key)`` ended it.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_WAIT_POLICY="PASSIVE")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: Cancel reaches its workers too
    )
    with _LOCK:
        cancel(key)
        _RUNNING[key] = proc
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = ["$ ostinato " + shlex.join(argv)]  # the same run from a shell
    deadline = time.monotonic() + timeout_s
    try:
        ended = False
        while not ended:
            try:
                line = lines.get(timeout=0.5)
                while line is not None:
                    _add(seen, line)
                    line = lines.get_nowait()
                ended = True
            except queue.Empty:
                pass
            if time.monotonic() > deadline:
                _kill(proc)
                raise JobError(f"ostinato {argv[0]}: gave up after {timeout_s:.0f} s")
            yield seen
        proc.wait()
    finally:
        if proc.poll() is None:  # the page stopped listening (cancelled or closed): stop the work too
            _kill(proc)
        with _LOCK:
            if _RUNNING.get(key) is proc:
                del _RUNNING[key]
    if proc.returncode < 0:
        raise Cancelled(f"ostinato {argv[0]} cancelled")
    if proc.returncode != 0:
        errors = [x for x in seen if ": error: " in x] or seen[1:][-1:] or [f"exit status {proc.returncode}"]
        raise JobError(errors[-1])
    yield seen


def _add(seen: list[str], line: str) -> None:
    """Append a line; a progress bar's update replaces its previous state instead of piling up."""
    bar = _BAR.match(line)
    if bar and seen and (prev := _BAR.match(seen[-1])) and prev.group(1) == bar.group(1):
        seen[-1] = line
    else:
        seen.append(line)


def cancel(key: str) -> bool:
    """Stop the job running under ``key``; True when there was one."""
    proc = _RUNNING.pop(key, None)
    if proc is None or proc.poll() is not None:
        return False
    _kill(proc)
    return True


def cancel_all() -> None:
    """Stop every running job (the page is going away; children have their own sessions)."""
    for key in list(_RUNNING):
        cancel(key)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
