"""The ``repro`` deployment behind the UI's Run button: ``dvc exp run`` as a subprocess.

DVC decides what reruns; this flow only starts it, streams its output into the run log and
fails when it fails. Each stage is its own Prefect flow, so with ``PREFECT_API_URL`` kept in
the child environment the stage runs appear in the UI next to this one.

Served with ``global_limit=1``: two concurrent ``dvc exp run`` in one repo fight over DVC's
lock and ``params.yaml`` (measured: both failed, one silently computed with the other's params),
so a second trigger waits in ``AwaitingConcurrencySlot`` until the first finishes.
``--temp`` (the default) runs each experiment in a scratch copy of the last commit plus
tracked changes, leaving the workspace untouched; untracked files are not part of it.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, get_run_logger
from pydantic import ValidationError

from pipeline.config import PARAMS_FILE, ParamsError, read_params_file, repo_root, sections, validate_tree

DEPLOYMENT = "repro"
_MISSING = object()


class OverrideError(ValueError):
    """A bad ``set_params`` entry or target, with the entry and the reason."""


def _lookup(tree: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(tree, dict) and part in tree:
            tree = tree[part]
        elif isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        else:
            return _MISSING
    return tree


def _assign(tree: Any, parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        tree = tree[int(part)] if isinstance(tree, list) else tree[part]
    last = parts[-1]
    if isinstance(tree, list):
        tree[int(last)] = value
    else:
        tree[last] = value


def validate_overrides(overrides: list[str], root: Path) -> list[str]:
    """Check ``key=value`` entries against params.yaml before DVC sees them.

    The whole file must validate first (DVC deletes a stage's outputs before the stage finds a
    typo), the key must already exist in params.yaml (a typo would otherwise add a new key that no
    stage reads, and nothing would rerun) and the changed section must still validate.
    Returns the entries normalized to ``key=value``.
    """
    path, raw = read_params_file(root / PARAMS_FILE)
    validate_tree(path, raw)
    merged = copy.deepcopy(raw)
    out = []
    for entry in overrides:
        if not isinstance(entry, str) or "=" not in entry:
            raise OverrideError(f"set_params entry {entry!r}: expected key=value, e.g. segment.drop_under_s=2.0")
        key, value = (s.strip() for s in entry.split("=", 1))
        key = key.removeprefix(f"{PARAMS_FILE}:")
        if not key or not value:
            raise OverrideError(f"set_params entry {entry!r}: expected key=value with both sides non-empty")
        parts = key.split(".")
        current = _lookup(raw, parts)
        if current is _MISSING:
            section = parts[0]
            known = sorted(raw.get(section) or {}) if isinstance(raw.get(section), dict) else sorted(raw)
            where = f"section '{section}' has {known}" if section in raw else f"sections are {sorted(raw)}"
            raise OverrideError(f"set_params entry {entry!r}: key '{key}' is not in {path} ({where})")
        try:
            parsed = yaml.safe_load(value)  # DVC parses -S values as YAML too
        except yaml.YAMLError as e:
            raise OverrideError(f"set_params entry {entry!r}: value is not valid YAML: {e}") from None
        _assign(merged, parts, parsed)
        out.append(f"{key}={value}")
    for section in {o.split("=", 1)[0].split(".")[0] for o in out}:
        model = sections().get(section)
        if model is None:
            continue
        try:
            model.model_validate(merged.get(section) or {})
        except ValidationError as e:  # its own message names the key
            raise OverrideError(
                f"set_params: section '{section}' is invalid after the overrides "
                f"{[o for o in out if o.startswith(section + '.')]}:\n{e}"
            ) from None
    return out


def stage_names(root: Path) -> list[str]:
    dvc_yaml = yaml.safe_load((root / "dvc.yaml").read_text()) or {}
    return list((dvc_yaml.get("stages") or {}).keys())


def validate_targets(targets: list[str], root: Path) -> list[str]:
    names = stage_names(root)
    for t in targets:
        name = t.split(":", 1)[1] if t.startswith("dvc.yaml:") else t
        if name not in names:
            raise OverrideError(f"target {t!r} is not a stage in dvc.yaml; stages: {names}")
    return list(targets)


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for ``dvc exp run``: the venv first on PATH (stage ``cmd``s call ``python``),
    unbuffered output, no parent flow-run id (stage flows must be top-level runs, not resumes
    of this one), and PREFECT_API_URL kept so stage runs reach the UI's server."""
    env = dict(os.environ if env is None else env)
    for k in [k for k in env if k.startswith("PREFECT__")]:  # PREFECT__FLOW_RUN_ID and friends
        del env[k]
    env.pop("OSTINATO_ROOT", None)  # a --temp experiment runs in its own scratch copy
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def build_command(set_params: list[str], targets: list[str], temp: bool) -> list[str]:
    dvc = Path(sys.executable).parent / "dvc"
    cmd = [str(dvc) if dvc.exists() else "dvc", "exp", "run"]
    if temp:
        cmd.append("--temp")
    for o in set_params:
        cmd += ["-S", o]
    return cmd + list(targets)


def untracked_files(root: Path) -> list[str]:
    """Untracked, non-ignored files that ``--temp`` would silently leave out."""
    r = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True
    )
    return [line[3:] for line in r.stdout.splitlines() if line.startswith("?? ")]


def _run_name() -> str:
    from prefect.runtime import flow_run

    p = flow_run.parameters or {}
    bits = [*(p.get("set_params") or []), *(p.get("targets") or [])]
    mode = "temp" if p.get("temp", True) else "workspace"
    return (f"repro[{mode}] " + " ".join(bits))[:120] if bits else f"repro[{mode}] as committed"


@flow(name="repro", flow_run_name=_run_name)
def repro(set_params: list[str] = [], targets: list[str] = [], temp: bool = True) -> dict:  # noqa: B006
    """Run ``dvc exp run [--temp] -S key=value ... [targets]`` in the repo.

    set_params: params.yaml overrides such as ``segment.drop_under_s=2.0``.
    targets: stage names to build (default: the whole DAG); DVC reruns only what changed.
    temp: run in a scratch copy (workspace untouched, commit first); False applies the result
    to the workspace.
    """
    log = get_run_logger()
    root = repo_root()
    try:
        overrides = validate_overrides(list(set_params), root)
        targets = validate_targets(list(targets), root)
    except (OverrideError, ParamsError) as e:
        log.error("%s", e)
        raise
    if temp:
        missing = untracked_files(root)
        if missing:
            log.warning(
                "--temp experiments only see committed and modified tracked files; "
                "these untracked files are left out (commit them first): %s",
                missing[:20],
            )
    cmd = build_command(overrides, targets, temp)
    log.info("$ dvc %s   (in %s)", " ".join(cmd[1:]), root)
    lines: list[str] = []
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
        errors="replace",
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if line:
            lines.append(line)
            log.info("%s", line)
    rc = proc.wait()
    if rc != 0:
        raise RuntimeError(f"dvc exp run exited with {rc}; last lines:\n" + "\n".join(lines[-15:]))
    ran = [m.group(1).strip() for ln in lines if (m := re.search(r"Ran experiment\(s\):\s*(.+)", ln))]
    stages_ran = re.findall(r"Running stage '([^']+)'", "\n".join(lines))
    skipped = re.findall(r"Stage '([^']+)' didn't change, skipping", "\n".join(lines))
    result = {
        "experiments": ran,
        "stages_ran": stages_ran,
        "stages_skipped": skipped,
        "set_params": overrides,
        "targets": targets,
        "temp": temp,
    }
    log.info("done: %s", result)
    return result


def serve_repro(**kwargs: Any) -> None:
    """Serve the deployment until SIGINT/SIGTERM. ``PREFECT_API_URL`` must already point at a
    healthy server (see ``pipeline.orchestration.server``)."""
    from prefect.types.entrypoint import EntrypointType

    repro.serve(
        name=DEPLOYMENT,
        global_limit=1,
        entrypoint_type=EntrypointType.MODULE_PATH,  # imported from the repo (cwd), not by file path
        description="dvc exp run [--temp] -S key=value ... [targets]; one at a time",
        tags=["ostinato"],
        print_starting_message=False,
        **kwargs,
    )
