"""Chaos: SIGKILL ``dvc repro`` mid-stage, rerun, and compare the outputs with an uninterrupted run.

For each chosen stage of the micro DAG, in one repo copy (tests/e2e/repo_copy.py):
1. reference: ``dvc repro -s STAGE`` uninterrupted; digest every out listed in dvc.yaml;
2. chaos: ``dvc repro -f -s STAGE`` in its own process group, SIGKILL the group after a seeded
   random fraction of the reference time, rerun ``dvc repro -f -s STAGE`` (the stage itself runs
   over what the kill left; ``--plain-rerun``: plain ``dvc repro -s``, where DVC checks the
   cached outputs out) and digest again; training stages are also killed right after their
   first checkpoint, and the forced rerun must resume from it (``resumed_from_step``).
Then the same with a Prefect server attached (PREFECT_API_URL of a loopback server we start;
one kill is a SIGTERM, where a hang after "Crash detected" was seen) and with two UI triggers
queued on ``ostinato serve`` (the running stage is killed; the queued run must still finish).
A hang is any run that outlives its timeout. Counts: kills tried, kills that landed mid-run,
runs that resumed, outputs that differ (must be 0), hangs (must be 0).

Digests are per-file sha256 (manifest.json and environment.json skipped, as hash_path does);
JSON files drop the keys in VOLATILE (wall-clock throughput, and which step a run resumed from):
they differ run to run by design. Safetensors and gzip files are compared by content (their
headers carry a random metadata order / the write time); byte-only differences are counted as
``header_only``.
Run: ``python tests/slow/test_chaos.py [--all] [--stages a,b] [--seed N]`` (prints the counts)
or ``pytest -m slow tests/slow/test_chaos.py``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.prefect_server`, run as a script
from repo_copy import copy_repo, env  # noqa: E402


def base_env() -> dict:
    """A user's run: each stage starts its own temporary Prefect server (the attached-server case
    starts its own server below)."""
    return env(shared_server=False)


DEFAULT_STAGES = ["ingest", "aria_tokenize", "pack", "aria_pretrain"]
SERVER_STAGES = ["aria_tokenize", "aria_pretrain"]
VOLATILE = {"tokens_per_s", "train_seconds", "wall_s", "resumed_from_step", "elapsed_s", "mfu"}
STAGE_TIMEOUT_S = 600


def strip_volatile(obj):
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def safetensors_content(f: Path) -> bytes:
    """Tensors (name, dtype, shape, bytes) + metadata, order-free: the safetensors writer (Rust,
    a HashMap) writes the metadata keys in a random order per process, so two identical models
    can differ in their header bytes (measured: same tensors, different file hashes)."""
    from safetensors import safe_open

    h = hashlib.sha256()
    with safe_open(str(f), "pt") as st:
        h.update(json.dumps(st.metadata() or {}, sort_keys=True).encode())
        for k in sorted(st.keys()):
            x = st.get_tensor(k).contiguous()
            h.update(f"{k}:{x.dtype}:{list(x.shape)}".encode())
            h.update(x.view(-1).view(torch_uint8()).numpy().tobytes() if x.numel() else b"")
    return h.digest()


def torch_uint8():
    import torch

    return torch.uint8


def digest(path: Path) -> dict[str, str]:
    """File -> hash (manifest/environment skipped as in hash_path; JSON without VOLATILE keys;
    safetensors and .gz by content, with the raw bytes' hash under ``<file>#bytes`` for the record)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = {}
    for f in files:
        rel = f.name if f == path else f.relative_to(path).as_posix()
        if rel in ("manifest.json", "environment.json"):
            continue
        data = f.read_bytes()
        if f.suffix == ".json":
            data = json.dumps(strip_volatile(json.loads(data)), sort_keys=True).encode()
        if f.suffix == ".safetensors":
            out[f"{rel}#bytes"] = hashlib.sha256(data).hexdigest()[:16]
            data = safetensors_content(f)
        elif f.suffix == ".gz":  # gzip headers carry the write time (lhotse manifests)
            out[f"{rel}#bytes"] = hashlib.sha256(data).hexdigest()[:16]
            data = gzip.decompress(data)
        out[rel] = hashlib.sha256(data).hexdigest()[:16]
    return out


def stage_outs(repo: Path, stage: str) -> list[str]:
    st = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][stage]
    return [o if isinstance(o, str) else next(iter(o)) for o in st.get("outs", [])]


def digests(repo: Path, stage: str) -> dict[str, dict[str, str]]:
    return {o: digest(repo / o) if (repo / o).exists() else {} for o in stage_outs(repo, stage)}


def diff(a: dict, b: dict, raw: bool = False) -> list[str]:
    """Files whose content differs (``raw``: whose safetensors bytes differ)."""
    bad = []
    for out in a:
        files = set(a[out]) | set(b.get(out, {}))
        files = {f for f in files if f.endswith("#bytes") == raw}
        bad += [f"{out}/{f}" for f in sorted(files) if a[out].get(f) != b.get(out, {}).get(f)]
    return bad


def killpg(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def dvc(repo: Path, args: list[str], env: dict, timeout: float = STAGE_TIMEOUT_S) -> tuple[int, str, float, bool]:
    """(rc, output, seconds, hung): a run past ``timeout`` is killed and reported as hung."""
    t0 = time.time()
    proc = subprocess.Popen(
        ["dvc", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out, time.time() - t0, False
    except subprocess.TimeoutExpired:
        killpg(proc, signal.SIGKILL)
        out, _ = proc.communicate()
        return -9, out, time.time() - t0, True


class Counts(dict):
    def __init__(self):
        super().__init__(kills_tried=0, kills_landed=0, resumed=0, outputs_differ=0, hangs=0, header_only=0)

    def add(self, **kw):
        for k, v in kw.items():
            self[k] += v


def rerun_and_compare(
    repo: Path, stage: str, ref: dict, ref_s: float, env: dict, counts: Counts, force: bool
) -> tuple[int, str, float, str, list[str]]:
    """Plain rerun (what a user types: DVC checks out cached outputs when deps are unchanged)
    or forced (``-f``: the stage itself runs over what the kill left: temp dirs, checkpoints)."""
    args = ["repro", "-f", "-s", stage] if force else ["repro", "-s", stage]
    rc, out, secs, hung = dvc(repo, args, env, timeout=max(4 * ref_s, 240))
    action = (
        "reran" if "Running stage" in out else "checked out from the DVC cache" if "is cached" in out else "up to date"
    )
    counts.add(hangs=int(hung), resumed=int(rc == 0))
    now = digests(repo, stage) if rc == 0 else {}
    bad = diff(ref, now) if rc == 0 else ["(rerun failed)"]
    counts.add(outputs_differ=len(bad), header_only=len(diff(ref, now, raw=True)) if rc == 0 else 0)
    return rc, out, secs, action, bad


def ckpt_kill(repo: Path, stage: str, ref: dict, ref_s: float, env: dict, counts: Counts, log) -> None:
    """SIGKILL a training stage right after its first checkpoint, rerun it forced: it must resume
    from the checkpoint (resumed_from_step > 0 in the report's environment.json) and end with the
    reference outputs."""
    ckpt = repo / "models/.ckpt" / stage
    proc = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", stage],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 4 * ref_s + 120:
        if ckpt.is_dir() and any(ckpt.glob("step-*/meta.json")):
            break
        time.sleep(0.2)
    landed = proc.poll() is None
    killpg(proc, signal.SIGKILL)
    proc.wait()
    counts.add(kills_tried=1, kills_landed=int(landed))
    steps = sorted(p.name for p in ckpt.glob("step-*")) if ckpt.is_dir() else []
    rc, out, secs, action, bad = rerun_and_compare(repo, stage, ref, ref_s, env, counts, force=True)
    report = stage_outs(repo, stage)
    env_file = next((repo / o / "environment.json" for o in report if (repo / o / "metrics.json").is_file()), None)
    timings = json.loads(env_file.read_text()).get("timings", {}) if env_file and env_file.is_file() else {}
    resumed_from = timings.get("metrics.resumed_from_step")
    log(
        f"  {stage}: SIGKILL after checkpoint {steps} ({'mid-run' if landed else 'it had finished'}), "
        f"forced rerun rc={rc} in {secs:.0f} s ({action}, resumed_from_step={resumed_from}), differ: {bad or 0}"
        + ("" if rc == 0 else f"\n{out[-2000:]}")
    )


def chaos_stage(
    repo: Path,
    stage: str,
    ref: dict,
    ref_s: float,
    rng: random.Random,
    env: dict,
    counts: Counts,
    log,
    sig: int = signal.SIGKILL,
    force: bool = False,
) -> None:
    """Kill a forced rerun of ``stage`` at a random point, rerun, compare with ``ref``."""
    delay = rng.uniform(0.05, 0.7) * ref_s
    proc = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", stage],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(delay)
    landed = proc.poll() is None
    killpg(proc, sig)
    try:
        proc.wait(timeout=90)  # SIGTERM: the stage must stop by itself (no hang after a crash report)
    except subprocess.TimeoutExpired:
        counts.add(hangs=1)
        log(f"  HANG: {stage} still running 90 s after {signal.Signals(sig).name}")
        killpg(proc, signal.SIGKILL)
        proc.wait()
    counts.add(kills_tried=1, kills_landed=int(landed))
    left = "outs present" if all((repo / o).exists() for o in stage_outs(repo, stage)) else "outs removed"
    rc, out, secs, action, bad = rerun_and_compare(repo, stage, ref, ref_s, env, counts, force)
    log(
        f"  {stage}: {signal.Signals(sig).name} at {delay:.1f} s of ~{ref_s:.0f} s "
        f"({'mid-run' if landed else 'after it finished'}; {left}), rerun rc={rc} in {secs:.0f} s ({action}), "
        f"differ: {bad or 0}" + ("" if rc == 0 else f"\n{out[-2000:]}")
    )


def stage_uses_checkpoints(repo: Path, stage: str) -> bool:
    """Training stages keep resumable checkpoints in models/.ckpt/<stage>: those that train through
    ``train_stage`` (pipeline/orchestration/training.py) and those that name the folder themselves."""
    module = repo / "stages" / f"{stage}.py"
    text = module.read_text() if module.is_file() else ""
    return "train_stage(" in text or f"models/.ckpt/{stage}" in text


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_url(url: str, timeout: float) -> bool:
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            urllib.request.urlopen(url, timeout=5)
            return True
        except OSError:
            time.sleep(1)
    return False


def start_prefect_server(repo: Path, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    if not wait_url(url + "/health", 180):
        killpg(proc, signal.SIGKILL)
        raise RuntimeError("prefect server did not become healthy in 180 s")
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    killpg(proc, signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        killpg(proc, signal.SIGKILL)
        proc.wait()


def ui_chaos(repo: Path, env: dict, counts: Counts, log, deadline_s: float = 480) -> None:
    """Two UI triggers on ``ostinato serve`` (the deployment has global_limit=1, so the second
    queues); SIGKILL the first one's stage process; both runs must reach a final state in time,
    the queued one COMPLETED, and the workspace outputs stay untouched (``--temp``)."""
    import psutil

    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "ref"], cwd=repo, check=True)
    before = digests(repo, "ingest")
    port = free_port()
    base = f"http://127.0.0.1:{port}/api"
    serve = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port)],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def api(path, body=None):
        req = urllib.request.Request(
            base + path,
            data=None if body is None else json.dumps(body).encode(),
            method="POST" if body is not None else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    try:
        t0 = time.time()
        dep = None
        while dep is None and time.time() - t0 < 180:
            try:
                dep = api("/deployments/name/repro/repro")
            except OSError:
                time.sleep(2)
        if dep is None:
            raise RuntimeError("ostinato serve did not register the repro deployment in 180 s")
        runs = [
            api(
                f"/deployments/{dep['id']}/create_flow_run",
                {"parameters": {"set_params": [f"ingest.limits.min_notes={v}"], "targets": ["ingest"]}},
            )
            for v in (9, 10)
        ]
        victim, t1 = None, time.time()
        while victim is None and time.time() - t1 < 300:  # the first run's stage process
            for p in psutil.Process(serve.pid).children(recursive=True):
                try:
                    if "stages.ingest" in " ".join(p.cmdline()):
                        victim = p
                        break
                except psutil.Error:
                    continue
            time.sleep(1)
        counts.add(kills_tried=1)
        if victim is not None:
            time.sleep(3)
            victim.kill()
            counts.add(kills_landed=1)
        final = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
        states = {}
        while time.time() - t1 < deadline_s:
            states = {r["id"]: api(f"/flow_runs/{r['id']}")["state"]["type"] for r in runs}
            if all(s in final for s in states.values()):
                break
            time.sleep(2)
        hung = [i for i, s in states.items() if s not in final]
        counts.add(hangs=len(hung))
        queued_ok = states.get(runs[1]["id"]) == "COMPLETED"
        counts.add(resumed=int(queued_ok))
        bad = diff(before, digests(repo, "ingest"))
        counts.add(outputs_differ=len(bad))
        log(
            f"  ui: killed {'stage ingest of run 1' if victim else 'nothing (stage never seen)'}; states "
            f"{list(states.values())}; queued run completed: {queued_ok}; workspace differ: {bad or 0}"
        )
    finally:
        stop(serve)


def run_chaos(
    stages: list[str], seed: int = 0, server: bool = True, ui: bool = True, force: bool = True, log=print
) -> Counts:
    rng, counts = random.Random(seed), Counts()
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        repo = copy_repo(Path(tmp))
        env = base_env() | {"PREFECT_HOME": str(repo / ".prefect"), "PYTHONUNBUFFERED": "1"}
        order = list(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])
        needed = set(stages)
        log(f"chaos in {repo}: stages {stages} (seed {seed})")
        refs = {}
        for stage in sorted(needed, key=order.index):  # DVC builds any upstream stage first
            rc, out, secs, hung = dvc(repo, ["repro", stage], env)
            if rc != 0:
                raise RuntimeError(f"reference run of {stage} failed:\n{out[-3000:]}")
            # time the stage alone: also when an earlier reference (report's) already built it
            if out.count("Running stage") != 1:
                rc, out, secs, hung = dvc(repo, ["repro", "-f", "-s", stage], env)
                assert rc == 0, out[-3000:]
            refs[stage] = (digests(repo, stage), secs)
            log(f"  reference {stage}: {secs:.0f} s")
        for stage in sorted(needed, key=order.index):
            chaos_stage(repo, stage, *refs[stage], rng, env, counts, log, force=force)
            if stage_uses_checkpoints(repo, stage):
                ckpt_kill(repo, stage, *refs[stage], env, counts, log)
        if server:
            proc, url = start_prefect_server(repo, env)
            senv = env | {"PREFECT_API_URL": url}
            log(f"  prefect server attached at {url}")
            try:
                for k, stage in enumerate(s for s in SERVER_STAGES if s in needed):
                    sig = signal.SIGTERM if k == 0 else signal.SIGKILL
                    chaos_stage(repo, stage, *refs[stage], rng, senv, counts, log, sig=sig, force=force)
            finally:
                stop(proc)
        if ui:
            ui_chaos(repo, env, counts, log)
    return counts


@pytest.mark.slow
def test_chaos_outputs_equal_after_kills():
    counts = run_chaos(DEFAULT_STAGES)
    print("chaos counts:", counts)
    assert counts["outputs_differ"] == 0 and counts["hangs"] == 0
    assert counts["resumed"] == counts["kills_tried"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--all", action="store_true", help="every stage of dvc.yaml (slow)")
    ap.add_argument("--stages", default=",".join(DEFAULT_STAGES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-server", action="store_true")
    ap.add_argument("--no-ui", action="store_true")
    ap.add_argument(
        "--plain-rerun",
        action="store_true",
        help="rerun with plain `dvc repro` (DVC checks out cached outputs) instead of -f",
    )
    a = ap.parse_args()
    root = Path(__file__).resolve().parents[2]
    stages = list(yaml.safe_load((root / "dvc.yaml").read_text())["stages"]) if a.all else a.stages.split(",")
    t0 = time.time()
    counts = run_chaos(
        stages,
        a.seed,
        server=not a.no_server,
        ui=not a.no_ui,
        force=not a.plain_rerun,
        log=lambda m: print(m, flush=True),
    )
    print(f"chaos counts: {json.dumps(counts)} ({time.time() - t0:.0f} s)")
    return (
        0
        if counts["outputs_differ"] == 0 and counts["hangs"] == 0 and counts["resumed"] == counts["kills_tried"]
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
