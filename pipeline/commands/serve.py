"""``ostinato serve``: the Prefect UI on 127.0.0.1 plus the ``repro`` deployment.

Starts (or reuses) a local Prefect server, exports ``PREFECT_API_URL`` once it is healthy,
serves ``repro`` (``dvc exp run --temp -S ...``) until Ctrl-C, and stops the server it started.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from pipeline.orchestration.server import DEFAULT_HOST, DEFAULT_PORT, is_loopback, start_server


def add_arguments(p) -> None:
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"server port (default {DEFAULT_PORT})")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the UI has no authentication and can run dvc exp run in this repo)",
    )


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(args) -> int:
    from pipeline.config import repo_root

    # Stop cleanly (and stop the server we start) on Ctrl-C, kill and a closed terminal, even
    # when started in the background by a shell that set SIGINT to "ignore".
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    root = repo_root()
    if not is_loopback(args.host) and not args.allow_remote:
        raise ValueError(
            f"--host {args.host} is not a loopback address; the UI has no authentication. "
            "Pass --allow-remote to expose it anyway."
        )
    t0 = time.perf_counter()
    server = start_server(root, port=args.port, host=args.host, allow_remote=args.allow_remote)
    how = (
        f"started in {server.startup_s:.1f} s, log {server.log_path}"
        if server.started
        else "reusing the server already answering there"
    )
    print(f"Prefect UI: {server.ui_url}  ({how})", flush=True)
    if not is_loopback(args.host):
        print(
            f"WARNING: bound to {args.host}: anyone who can reach port {args.port} can run experiments in this repo",
            file=sys.stderr,
            flush=True,
        )
    try:
        server.export()
        os.environ["PREFECT_HOME"] = str(root / ".prefect")
        from pipeline.orchestration.env import prepare_prefect_env

        prepare_prefect_env(root)
        os.chdir(root)
        from pipeline.orchestration.deploy import DEPLOYMENT, serve_repro

        print(
            f"Serving deployment 'repro/{DEPLOYMENT}' (one run at a time) after "
            f"{time.perf_counter() - t0:.1f} s. Open {server.ui_url}/deployments, pick 'repro', "
            "Run > Custom run, add set_params like segment.drop_under_s=2.0. "
            "Commit first: --temp runs ignore untracked files. Ctrl-C to stop.",
            flush=True,
        )
        serve_repro()
    except KeyboardInterrupt:
        pass
    finally:
        if server.started:
            server.stop()
            print("Prefect server stopped.", flush=True)
    return 0
