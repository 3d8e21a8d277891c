"""DVC stage ``valle_eval``: the MIDI-VALLE table on ``data/valle_synthesize``.

Per system (VALL-E, FluidSynth in the prompt's condition, codec reconstruction): FAD against the
ground-truth segments and against their codec reconstructions, on the codec's latents and on
log-mel frames, each with a 95% bootstrap interval, and FAD-inf (Gui et al. 2024); chroma and
spectrogram distance as MIDI-VALLE's evaluation code computes them, to the ground truth and to the
codec reconstruction (the paper's Table 4), with 95% intervals (``pipeline.valle.eval_report``);
one more table per dataset when the recordings manifest (``render_audio.real_recordings``, its
``dataset`` column) puts the synthesised recordings in several. The codec table (the paper's
Table 3): our codec's reconstruction of the ground truth (valle_synthesize's) and each of
``valle_eval.baseline_codecs`` (released codecs under weights/valle_eval/, at the segments' rate),
spectrogram and chroma distance to the truth with 95% intervals.
Outputs ``reports/valle_eval/``: metrics.json (every number), headline.json (the table,
side-by-side samples, spectrograms), samples/*.flac, plots/spectrograms.png.
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from pipeline.codec import load as load_codec
from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.valle.eval_report import load_baselines, recording_datasets, write_eval_report

SYNTH, CODEC, REPORT = "data/valle_synthesize", "models/codec_train", "reports/valle_eval"


@flow(name="valle_eval")
def valle_eval() -> None:
    log = get_run_logger()
    base, p, root = load_section("base"), load_section("valle_eval"), repo_root()
    codec = load_codec(root / CODEC)
    sample_rate = json.loads((root / SYNTH / "summary.json").read_text())["sample_rate"]
    baselines = load_baselines(p.baseline_codecs, root, sample_rate)  # refused here: before any work
    datasets = recording_datasets(root / SYNTH, root)
    with StageOutputs("valle_eval", [REPORT]) as out:
        metrics = write_eval_report(root / SYNTH, codec, p, base.seed, out[REPORT], baselines, datasets)
        out.commit(
            params_dump("base", "valle_eval"),
            inputs=[SYNTH, CODEC, *(b["path"] for b in baselines.values())],
            seed=base.seed,
            extra={"segments": metrics["segments"]},
        )
    log.info("valle_eval: %s; codecs %s", metrics["table"], metrics["codec_table"])


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(valle_eval)
