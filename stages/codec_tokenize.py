"""DVC stage ``codec_tokenize``: every segment's audio -> codec codes [n_q, frames], and its MIDI ->
MIDI-VALLE's 6-field compound tokens [notes + 2, 6] (``pipeline.valle.midi_tokens``).

Outputs ``data/codec_tokenize/``::

    codes/{train,val,test}/   token store (pipeline/data/token_store.py), items int [n_q, frames]
    midi/{train,val,test}/    token store, items int [notes + 2, 6]; same ids, same order as codes/
    codec.json                the codec's sample_rate, n_q, bins, frame_rate, hop_length + model hash
    stats.json                counts, frames, rejects by reason
and ``reports/codec_tokenize/`` (metrics.json, rejected.jsonl: one record per quarantined segment
with its reason: silent, clipped, sample_rate, short_audio, length_mismatch, no_notes, ...).
The work is ``pipeline.codec.token_dataset``.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.codec.load import load
from pipeline.codec.segments import read_specs
from pipeline.codec.token_dataset import write_token_dataset
from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump

OUT, REPORT = "data/codec_tokenize", "reports/codec_tokenize"
CUTS, MODEL = "data/segment/cuts.jsonl.gz", "models/codec_train"


@flow(name="codec_tokenize")
def codec_tokenize() -> None:
    log = get_run_logger()
    p, root = load_section("codec_tokenize"), repo_root()
    codec = load(root / MODEL)
    specs = read_specs(root / CUTS, root, p.conditions)
    with StageOutputs("codec_tokenize", [OUT, REPORT]) as out:
        stats = write_token_dataset(codec, specs, p, root, out[OUT], out[REPORT], hash_path(root / MODEL))
        out.commit(params_dump("codec_tokenize"), inputs=[CUTS, MODEL], extra={"wall_s": stats.pop("wall_s")})
    log.info("codec_tokenize: %s", stats)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(codec_tokenize)
