"""Every command in README.md and docs/*.md runs (issue 21: the README's commands had drifted).

The commands are read from the docs' fenced code blocks (bash, or unlabelled blocks whose lines
start with a known tool; ``\\`` continuations joined, ``&&`` chains split, comments dropped) and
run in the session's micro-profile build (``micro_dag``), in document order, each expecting exit
code 0 and no traceback:

- commands that read outputs run as written (``ostinato ...``, ``dvc status``, ``cat ...``);
- commands that would build, train or serve get a dry run or ``--help`` (``DRY_RUN``,
  ``HELP_ONLY``), and every ``--flag`` they use must appear in that help;
- files the docs call the user's own (``my.mid``, ``/data/my_midis``...) are made from the build's
  ingest MIDI first (``user_files``), and removed with everything else the commands wrote;
- every ``-S key=value`` (and each ``set_params`` entry of the UI examples) must name a key that
  exists in params.yaml and validate with the override applied;
- ``NOT_RUN`` lists, with the reason, what is not executed at all; an entry matching no command
  fails the test, so the list cannot go stale.

For development, ``OSTINATO_README_BUILD=/path/to/a/micro/build`` runs it against an existing
build (a copy you may write into) instead of building one.
"""

from __future__ import annotations

import glob
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.pipeline
REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TOOLS = {"ostinato", "dvc", "make", "python", "pytest", "pip", "prefect", "curl", "cat", "git", "apt-get", "sudo"}

NOT_RUN = {  # regex on the command -> why it is not executed here
    r"^pip install ": "installs into the venv the tests run in (and downloads: no network in CI)",
    r"^dvc remote add -d shared (s3|gs|ssh)://": "a cloud remote (credentials, network); the local-remote "
    "path is tests/e2e/test_micro_dag.py -k remote",
    r"^dvc (push|pull)$": "needs a configured remote: tests/e2e/test_micro_dag.py -k remote pushes and pulls",
    r"^git (add|commit)\b": "would commit into the shared build the later tests compare against",
    r"^prefect deployment run ": "needs the served repro deployment: tests/e2e/test_ui.py triggers runs "
    "(its set_params are checked here)",
    r"^curl ": "the REST API of a running server (tests/e2e/test_ui.py); its set_params are checked here",
    r"^ostinato generate \.\.\. ": "elided arguments (the full command is above; MLX: tests/unit/test_mlx_aria.py, "
    "--metadata: tests/unit/test_generate_options.py)",
    r"ep022_loss0\.434_params\.pt": "upstream's released GnM weights, downloaded by the user; "
    "tests/unit/test_gnm_api.py loads the same layout",
    r"NotaGen-X\.pth": "upstream's released NotaGen weights, downloaded by the user; "
    "tests/unit/test_notagen_entry_points.py loads the same layout",
    r"^ostinato params (check --profile|profile) paper-": "a paper profile names released weights and data the "
    "user downloads (SET-ME values): refused until filled; tests/unit/test_paper_profiles.py fills them",
}
HELP_ONLY = {  # would train, serve or need experiments: `--help` shows the command and its flags exist
    r"^dvc exp run\b": "runs the DAG",
    r"^dvc exp (apply|branch|remove)\b": "needs an experiment",
    r"^dvc plots diff '?<": "needs two experiments",
    r"^ostinato (repro|serve|demo)\b": "builds the DAG / serves until stopped",
    r"^python tests/slow/": "a chaos run of 10-25 min",
    r"^python benchmarks/": "a benchmark; tests/unit/test_benchmarks.py runs each with --quick",
    r"^ostinato live\b": "real time: plays its input at the input's speed and continues for up to --max-seconds "
    "per turn; ports need a MIDI system (ALSA), which CI has none of",
}
SMALLER = {  # regex -> arguments appended (argparse: the last value wins) so the run stays short on 2 cores
    r"^ostinato generate --checkpoint models/aria_finetune": ["--variations", "1", "--length", "32"],  # 95 s as written
    r"^ostinato generate --family gnm": ["-n", "1", "--max-events", "64"],
    r"^ostinato generate --family notagen": ["-n", "1", "--max-chars", "256"],
}
MICRO_ERRORS = {  # regex -> the one-line error the micro build's tiny checkpoint gives: the command ran through
    r"^ostinato generate --family notagen": "no piece got past ABC",  # a 4-step model never ends a piece
}
USER_MIDI = ("my.mid", "a.mid", "b.mid", "piece.mid")  # "your MIDI" in the docs
USER_DIRS = {"/data/my_midis": "my_midis"}  # an absolute folder of yours -> one made in the build


def doc_commands() -> list[tuple[str, str]]:
    """(file:line, command) for every shell command in the docs' code blocks, in order."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in re.finditer(r"(?m)^```(\w*)\n(.*?)^```", text, re.S):
            if m.group(1) not in ("", "bash", "sh", "shell", "console"):
                continue
            first = text[: m.start(2)].count("\n") + 1
            lines = m.group(2).split("\n")
            i = 0
            while i < len(lines):
                start, line = i, lines[i]
                while line.rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    line = line.rstrip()[:-1] + " " + lines[i].strip()
                i += 1
                words = shlex.split(line, comments=True) if line.strip() else []
                if not words or words[0] not in TOOLS:
                    continue
                for part in " ".join(shlex.quote(w) for w in words).split(" '&&' "):
                    out.append((f"{doc.relative_to(REPO)}:{first + start}", shlex.join(shlex.split(part))))
    return out


NEVER = ("pip", "apt-get", "sudo", "brew")  # whatever the lists say: these change the machine


def how(cmd: str) -> tuple[str, list[str] | None]:
    """('not run' | 'help' | 'dry' | 'run', argv)."""
    argv = shlex.split(cmd)
    if any(re.search(p, cmd) for p in NOT_RUN) or argv[0] in NEVER:
        return "not run", None
    if any(re.search(p, cmd) for p in HELP_ONLY):
        head = [w for w in argv[: next((i for i, w in enumerate(argv) if w.startswith(("-", "<"))), len(argv))]]
        return "help", [*head, "--help"]
    if argv[:2] == ["dvc", "repro"]:
        return "dry", ["dvc", "repro", "--dry", *argv[2:]]
    if argv[0] == "make":
        return "dry", ["make", "-n", *argv[1:]]
    if argv[0] == "pytest":
        return "dry", ["pytest", "--collect-only", "-q", *argv[1:]]
    return "run", argv


def overrides(cmd: str) -> list[str]:
    """`-S key=value` arguments and the entries of a `set_params` list."""
    argv = shlex.split(cmd)
    found = [argv[i + 1] for i, w in enumerate(argv[:-1]) if w == "-S"]
    for blob in re.findall(r"set_params[\"']?\s*[:=]\s*'?(\[[^\]]*\])", cmd):
        found += yaml.safe_load(blob)
    return found


def test_overrides_name_real_params():
    from pipeline.orchestration.deploy import validate_overrides

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    checked = 0
    for where, cmd in doc_commands():
        kvs = overrides(cmd)
        for kv in kvs:
            key = kv.split("=", 1)[0]
            node = params
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"{where}: {key} is not in params.yaml: {cmd}"
                node = node[part]
            checked += 1
        if kvs:  # together, as DVC applies them
            validate_overrides(kvs, REPO)
    assert checked >= 4  # README's exp runs and the UI examples


def user_files(root: Path) -> None:
    """The files the docs call the user's own, from the build's ingest MIDI (short ones, so the
    synthesis example stays fast)."""
    from pipeline.data.segment import load_pm, slice_midi

    pieces = sorted((root / "data/ingest/midi").glob("*.mid"))
    for name, src in zip(USER_MIDI, pieces):
        slice_midi(load_pm(src), 0.0, 4.0).write(str(root / name))
    folder = root / USER_DIRS["/data/my_midis"]
    folder.mkdir()
    for src in pieces[:3]:
        shutil.copy(src, folder / src.name)
    shutil.copy(pieces[3], folder / "one.mid")
    rows = ["path,composer"] + [f"{p.name},{p.name.split('-')[0]}" for p in pieces[:3]] + ["one.mid,x"]
    (folder / "meta.csv").write_text("\n".join(rows) + "\n")


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "OSTINATO_ROOT")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return env


@pytest.fixture(scope="module")
def build(request) -> Path:
    given = os.environ.get("OSTINATO_README_BUILD")
    return Path(given) if given else request.getfixturevalue("micro_dag").path


def test_not_run_list_is_current():
    cmds = [c for _, c in doc_commands()]
    for pattern in [*NOT_RUN, *HELP_ONLY]:
        assert any(re.search(pattern, c) for c in cmds), f"no command in the docs matches {pattern!r}: drop it"


def test_every_command_runs(build):
    before = set(os.listdir(build))
    usage, t_all = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    cpu0 = usage.ru_utime + usage.ru_stime
    env = environment()
    try:
        user_files(build)
        done: set[tuple[str, ...]] = set()
        failures = []
        for where, cmd in doc_commands():
            mode, argv = how(cmd)
            if argv is None:
                continue
            for old, new in USER_DIRS.items():
                argv = [w.replace(old, new) for w in argv]
            argv = [g for w in argv for g in (sorted(glob.glob(w, root_dir=build)) or [w] if "*" in w else [w])]
            argv += next((extra for p, extra in SMALLER.items() if re.search(p, cmd)), [])
            if tuple(argv) in done:
                continue
            done.add(tuple(argv))
            t0 = time.perf_counter()
            r = subprocess.run(argv, cwd=build, env=env, capture_output=True, text=True, timeout=300)
            print(f"{time.perf_counter() - t0:6.1f} s  {mode:5} {shlex.join(argv)[:100]}")
            expected = next((e for p, e in MICRO_ERRORS.items() if re.search(p, cmd)), None)
            if expected and r.returncode == 2 and expected in r.stderr:
                r.returncode = 0
            problem = r.returncode != 0 or "Traceback" in r.stderr
            if mode == "help":
                unknown = [w for w in shlex.split(cmd) if w.startswith("--") and w.split("=")[0] not in r.stdout]
                problem = problem or bool(unknown)
            if problem:
                failures.append(f"{where}: {cmd}\n  ran {shlex.join(argv)} -> {r.returncode}\n  {r.stderr[-600:]}")
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(
            f"{len(done)} commands: {cpu.ru_utime + cpu.ru_stime - cpu0:.1f} s of CPU, {time.time() - t_all:.0f} s wall"
        )
        assert not failures, "\n".join(failures)
        assert (build / "out/synthesize/piece__prompt-bach_chorales-bwv1.6__piano_room.wav").is_file()
    finally:
        for name in set(os.listdir(build)) - before:
            path = build / name
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def test_stage_table_lists_every_stage():
    text = (REPO / "README.md").read_text()
    table = re.search(r"(?m)^\| stage \| reads \| writes \|\n((?:\|.*\n)+)", text).group(1)
    rows = {name for line in table.splitlines() for name in re.findall(r"`(\w+)`", line.split("|")[1])}
    stages = set(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])
    assert stages - rows == set(), f"README's stage table has no row for {sorted(stages - rows)}"
    assert rows - stages == set(), f"README's stage table names stages dvc.yaml lacks: {sorted(rows - stages)}"
