"""``ostinato demo``: a local generation page (Gradio) with one tab per family, on 127.0.0.1.

Models come from the DAG's ``models/`` (``--models``) or from released checkpoints given per
family (``--aria``, ``--gnm``, ``--notagen``, ``--valle`` + ``--codec``). Results (MIDI, ABC,
MusicXML, audio) are written under ``--workdir``. Needs the ``demo`` extra: ``pip install -e '.[demo]'``.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

DEFAULT_PORT = 7860  # Gradio's


def add_arguments(p) -> None:
    p.add_argument("--models", type=Path, default=Path("models"), help="the DAG's model folder (default models)")
    for family, what in (
        ("aria", "an Aria safetensors file or model directory"),
        ("gnm", "a GnM model directory, or an upstream .pt with dictionary.pkl beside it"),
        ("notagen", "a NotaGen model directory or upstream .pth (prompts.json/.txt beside it)"),
        ("valle", "a VALL-E model directory, .safetensors or MIDI-VALLE .pt"),
        ("codec", "the codec for --valle: a model directory, transformers Encodec dir or audiocraft export"),
    ):
        p.add_argument(f"--{family}", type=Path, help=f"{what} (default: under --models)")
    p.add_argument("--prompt-wav", type=Path, help="default VALL-E audio prompt (default: the DAG's first segment)")
    p.add_argument("--prompt-midi", type=Path, help="the MIDI of --prompt-wav")
    p.add_argument("--data", type=Path, default=Path("data"), help="the DAG's data folder, for the default prompt")
    p.add_argument("--workdir", type=Path, help="where results are written (default: a new temporary folder)")
    p.add_argument("--device", default=None, help="torch device for generation: auto (default), cpu, cuda, mps")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (the page has no authentication)"
    )


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(args) -> int:
    from pipeline.orchestration.server import is_loopback

    if not is_loopback(args.host) and not args.allow_remote:
        raise ValueError(f"--host {args.host} is not a loopback address; pass --allow-remote to expose the page")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network at run time
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from pipeline.demo import page
    except ModuleNotFoundError as e:
        if e.name != "gradio":
            raise
        raise RuntimeError("gradio is not installed: pip install -c constraints.txt -e '.[demo]'") from None
    from pipeline.demo.jobs import cancel_all
    from pipeline.demo.sources import resolve

    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop like Ctrl-C, and stop running generations
        signal.signal(sig, _interrupt)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="ostinato-demo-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    names = ("aria", "gnm", "notagen", "valle", "codec", "prompt_wav", "prompt_midi")
    overrides = {k: getattr(args, k) for k in names}
    sources = resolve(args.models, overrides, args.data, workdir)
    sources.device = args.device
    blocks = page.build(sources, workdir, Path.cwd())  # generations run where the demo was started
    print(f"results go to {workdir}", flush=True)
    try:
        blocks.queue().launch(
            server_name=args.host,
            server_port=args.port,
            share=False,
            ssr_mode=False,
            allowed_paths=[str(workdir)],
            footer_links=[],
            theme=page.theme(),
        )
    except KeyboardInterrupt:
        pass
    except OSError as e:  # Gradio's "Cannot find empty port": say which flag fixes it
        why = "the port is in use" if "empty port" in str(e) else str(e)
        raise RuntimeError(f"cannot serve on {args.host}:{args.port}: {why}; pass another --port") from None
    finally:
        blocks.close()
        cancel_all()
    return 0
