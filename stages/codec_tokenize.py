"""DVC stage ``codec_tokenize``: every segment's audio -> codec codes [n_q, frames], and its MIDI ->
MIDI-VALLE's 6-field compound tokens [notes + 2, 6] (``pipeline.valle.midi_tokens``).

Outputs ``data/codec_tokenize/``::

    codes/{train,val,test}/   token store (pipeline/data/token_store.py), items int [n_q, frames]
    midi/{train,val,test}/    token store, items int [notes + 2, 6]; same ids, same order as codes/
    codec.json                the codec's sample_rate, n_q, bins, frame_rate, hop_length + model hash
    stats.json                counts, frames, rejects by reason
and ``reports/codec_tokenize/`` (metrics.json, rejected.jsonl: one record per quarantined segment
with its reason: silent, clipped, sample_rate, short_audio, length_mismatch, no_notes, ...).
"""

from __future__ import annotations

import time
from collections import Counter

import torch
from prefect import flow, get_run_logger

from pipeline.codec.load import load
from pipeline.codec.segments import load_segment, read_specs
from pipeline.codec.tokenize import SegmentRejected, check_audio, midi_rows
from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.token_store import SPLITS, write_split
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump

OUT, REPORT, CUTS, MODEL = "data/codec_tokenize", "reports/codec_tokenize", "data/segment/cuts.jsonl.gz", "models/codec_train"


def tokenize_one(codec, spec: dict, p, root) -> dict:
    base = {"id": spec["id"], "split": spec["split"], "condition": spec["condition"]}
    try:
        if spec["sample_rate"] != codec.sample_rate:
            raise SegmentRejected("sample_rate", f"{spec['sample_rate']} Hz, the codec takes {codec.sample_rate} Hz")
        try:
            wave = load_segment(spec)
        except ValueError as e:
            raise SegmentRejected("unreadable", str(e)) from None
        check_audio(wave, spec, p.silence_rms_db, p.max_clipped_fraction)
        midi = midi_rows(root / spec["midi"], len(wave) / spec["sample_rate"], p.max_length_mismatch_s)
        codes = codec.encode(torch.from_numpy(wave)[None, None])[0].numpy()
    except SegmentRejected as e:
        return {**base, "ok": False, "reason": e.reason, "detail": e.detail[:300]}
    label = {k: spec.get(k) for k in ("id", "recording_id", "piece_id", "condition", "split", "start", "duration",
                                      "midi")}
    return {**base, "ok": True, "codes": codes, "midi": midi,
            "label": label | {"frames": int(codes.shape[1]), "notes": int(len(midi) - 2)}}


@flow(name="codec_tokenize")
def codec_tokenize() -> None:
    from tqdm.auto import tqdm

    log = get_run_logger()
    p, root = load_section("codec_tokenize"), repo_root()
    codec = load(root / MODEL)
    specs = read_specs(root / CUTS, root, p.conditions)
    t0 = time.perf_counter()
    torch.set_grad_enabled(False)
    results = [tokenize_one(codec, s, p, root) for s in tqdm(specs, desc="codec_tokenize", unit="seg", mininterval=2)]
    wall = time.perf_counter() - t0
    ok = [r for r in results if r["ok"]]
    rejected = [{k: v for k, v in r.items() if k != "ok"} for r in results if not r["ok"]]
    with StageOutputs("codec_tokenize", [OUT, REPORT]) as out:
        splits = {}
        for split in SPLITS:
            mine = [r for r in ok if r["split"] == split]
            splits[split] = write_split(out[OUT] / "codes" / split, ((r["label"], r["codes"]) for r in mine))
            write_split(out[OUT] / "midi" / split, ((r["label"], r["midi"]) for r in mine))
        audio_s = sum(r["label"]["duration"] for r in ok)
        info = {"sample_rate": codec.sample_rate, "n_q": codec.n_q, "bins": codec.bins,
                "frame_rate": codec.frame_rate, "hop_length": codec.hop_length, "model": hash_path(root / MODEL)}
        write_json(out[OUT] / "codec.json", info)
        stats = {"segments": len(specs), "tokenized": len(ok), "rejected": len(rejected),
                 "rejects_by_reason": dict(sorted(Counter(r["reason"] for r in rejected).items())),
                 "splits": splits, "frames": int(sum(r["label"]["frames"] for r in ok)),
                 "audio_seconds": round(audio_s, 2), "encode_real_time_factor": round(audio_s / max(wall, 1e-9), 1)}
        write_json(out[OUT] / "stats.json", stats)
        write_jsonl(rejected, out[OUT] / "rejected.jsonl")
        write_jsonl(rejected, out[REPORT] / "rejected.jsonl")
        write_json(out[REPORT] / "metrics.json", stats | {"codec": info})
        out.commit(params_dump("codec_tokenize"), inputs=[CUTS, MODEL])
    log.info("codec_tokenize: %s", stats)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(codec_tokenize)
