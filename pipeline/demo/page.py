"""The Gradio page: one tab per family module, the same progress / result / download panel in each.

Generic: it knows a tab only through its module's ``TITLE``, ``FAMILY``, ``inputs``, ``argv`` and
``pieces``; the families run in ``ostinato`` child processes (``jobs.py``).
"""

from __future__ import annotations

import importlib
import itertools
import time
from pathlib import Path

import gradio as gr

from pipeline.demo.jobs import Cancelled, JobError, cancel, run_cli
from pipeline.demo.results import describe

TABS = ("aria_tab", "gnm_tab", "notagen_tab", "valle_tab")
SHOWN_LINES = 12  # the tail of the child's output shown as progress
_JOB_IDS = itertools.count()


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts: the stock theme fetches Google Fonts (no network here)."""
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def build(sources, workdir: Path, root: Path) -> gr.Blocks:
    with gr.Blocks(title="ostinato demo") as page:
        gr.Markdown(
            "# ostinato demo\nGenerate with each family's model; every result comes with a piano roll, "
            "FluidSynth audio and its files."
        )
        with gr.Tabs():
            for name in TABS:
                tab = importlib.import_module(f"pipeline.demo.{name}")
                with gr.Tab(tab.TITLE, id=tab.FAMILY, elem_id=f"tab-{tab.FAMILY}"):
                    if not sources.has(tab.FAMILY):
                        gr.Markdown(sources.missing(tab.FAMILY), elem_id=f"{tab.FAMILY}-missing")
                        continue
                    _panel(tab, sources, workdir, root)
    return page


def _panel(tab, sources, workdir: Path, root: Path) -> None:
    fam = tab.FAMILY
    makes_valle = getattr(tab, "MAKES_VALLE_AUDIO", False)
    values = tab.inputs(gr, sources)
    use_valle = gr.Checkbox(
        sources.valle_ready() and not makes_valle,
        label="also render with VALL-E (slower)",
        visible=sources.valle_ready() and not makes_valle,
        elem_id=f"{fam}-use-valle",
    )
    with gr.Row():
        go = gr.Button("Generate", variant="primary", elem_id=f"{fam}-go")
        stop = gr.Button("Cancel", elem_id=f"{fam}-cancel")
    status = gr.Textbox(label="progress", lines=6, max_lines=SHOWN_LINES, elem_id=f"{fam}-status")
    with gr.Row():
        roll = gr.Image(label="piano roll", type="filepath", elem_id=f"{fam}-roll")
        with gr.Column():
            audio = gr.Audio(label="FluidSynth", type="filepath", elem_id=f"{fam}-audio")
            valle_audio = gr.Audio(label="VALL-E", type="filepath", elem_id=f"{fam}-valle-audio")
    files = gr.File(label="downloads", file_count="multiple", elem_id=f"{fam}-files")

    def generate(request: gr.Request, want_valle, *inputs):
        key = f"{request.session_hash}:{fam}"
        out = workdir / fam / f"{time.strftime('%Y%m%d-%H%M%S')}-{next(_JOB_IDS)}"
        log: list[str] = []
        keep = gr.skip()
        yield "starting", None, None, None, None  # clear the previous result
        try:
            for lines in run_cli(tab.argv(sources, out, *inputs), key, root):
                log = lines
                yield _tail(lines), keep, keep, keep, keep
            found = [(m, extras) for m, extras in tab.pieces(out) if m.is_file()]
            if not found:
                raise JobError("no MIDI was written (the lines above say why); what was written is under downloads")
            midi, extras = found[0]
            log = log + [f"rendering {midi.name} with FluidSynth"]
            yield _tail(log), keep, keep, keep, keep
            res = describe(midi, extras)
            valle = midi.with_suffix(".valle.wav")
            shown_valle = valle if makes_valle and valle.is_file() else None
            yield _tail(log), _str(res.roll), _str(res.audio), _str(shown_valle), _str(res.files)
            if want_valle and not makes_valle:
                argv = sources.valle_argv(midi, valle, sources.prompt_wav, sources.prompt_midi)
                for lines in run_cli(argv, key, root):
                    yield _tail(log + lines), keep, keep, keep, keep
                log = log + lines
                yield _tail(log), keep, keep, _str(valle), _str([*res.files, valle])
            yield _tail(log + ["done"]), keep, keep, keep, keep
        except Cancelled:
            yield _tail(log + ["cancelled"]), keep, keep, keep, keep
        except (JobError, ValueError, FileNotFoundError, RuntimeError) as e:
            kept = sorted(p for p in out.glob("*") if p.is_file())  # e.g. NotaGen's unfinished ABC
            gr.Warning(str(e))  # a toast; gr.Error would cover the progress box that names the cause
            yield _tail(log + [f"error: {e}"]), keep, keep, keep, _str(kept) if kept else keep

    def stop_job(request: gr.Request):
        cancel(f"{request.session_hash}:{fam}")

    go.click(generate, [use_valle, *values], [status, roll, audio, valle_audio, files])
    stop.click(stop_job, None, None)  # kills the child: the generation ends as 'cancelled' on the page


def _str(x):
    """Gradio takes file paths as strings."""
    if isinstance(x, list):
        return [str(p) for p in x]
    return None if x is None else str(x)


def _tail(lines: list[str]) -> str:
    return "\n".join(lines[-SHOWN_LINES:])
