"""DVC stage ``tokenize_abc``: every ingested score -> NotaGen-style interleaved ABC + patch ids.

Each text starts with the ``%period`` / ``%composer`` / ``%instrumentation`` prompt lines
(instrumentation from ``tokenize_abc.instrumentation[genre]``, else from the number of parts),
is checked with ``validate_interleaved`` and cut into 16-character patches (BOS/EOS patches
included); the ids are the characters' ASCII codes (0 pad, 1 BOS, 2 EOS), patch after patch.
Outputs ``data/tokens/abc/`` ({train,val,test}/tokens.bin + index.jsonl + labels.jsonl +
texts.jsonl, rejected.jsonl, tokenizer.json) and ``reports/abc_tokenize/stats.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.params.notagen import AbcTokenizeParams
from pipeline.data.jsonl import read_jsonl, write_json, write_jsonl
from pipeline.data.token_store import SPLITS, accepted, quarantined, write_dataset
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.notagen.abc import (
    BOS_CHAR, EOS_CHAR, PAD_CHAR, abc_tune_to_interleaved, patchify, score_to_interleaved_abc,
    validate_interleaved,
)

OUT, REPORT, INGEST = "data/tokens/abc", "reports/abc_tokenize", "data/ingest"
VOCAB_SIZE = 128  # ASCII characters; 0 pad, 1 BOS, 2 EOS


def instrumentation(row: dict, p: AbcTokenizeParams) -> str:
    """Prompt label from the genre, else: 1 part Voice, 2 parts Keyboard, 3+ Chamber."""
    genre = row.get("genre")
    if genre in p.instrumentation:
        return p.instrumentation[genre]
    n = row.get("n_parts") or 1
    return "Voice" if n <= 1 else "Keyboard" if n == 2 else "Chamber"


def prompt_lines(row: dict, p: AbcTokenizeParams) -> dict:
    composer = row.get("composer") or "unknown"
    return {"period": (row.get("period") or "unknown").title(),
            "composer": p.composer_names.get(composer, composer.title()),
            "instrumentation": instrumentation(row, p)}


def interleaved_text(row: dict, p: AbcTokenizeParams, ingest_dir: Path, prompt: dict) -> str:
    from music21 import converter

    kwargs = prompt if p.prompt else {}
    if row.get("score"):
        path = ingest_dir / row["score"]
        if path.suffix == ".abc":
            return abc_tune_to_interleaved(path.read_text(encoding="utf-8", errors="replace"), **kwargs)
        return score_to_interleaved_abc(converter.parse(str(path)), **kwargs)
    return score_to_interleaved_abc(converter.parse(str(ingest_dir / row["midi"]), quantizePost=True), **kwargs)


def tokenize_rows(rows: list[dict], p: AbcTokenizeParams, ingest_dir: str) -> list[dict]:
    """One result per row: accepted (with its text), or quarantined with a reason."""
    results = []
    for row in rows:
        if not row.get("score") and not p.from_midi:
            results.append(quarantined(row, "no score file (MIDI-only piece); tokenize_abc.from_midi: "
                                            "true transcribes the MIDI instead", "no_score"))
            continue
        src = row.get("score") or row["midi"]
        if not (Path(ingest_dir) / src).is_file():
            results.append(quarantined(row, f"no such file: {src}", "missing_file"))
            continue
        prompt = prompt_lines(row, p)
        try:
            text = interleaved_text(row, p, Path(ingest_dir), prompt)
        except Exception as e:  # noqa: BLE001 - quarantine, never crash the stage
            results.append(quarantined(row, e, "abc_conversion_failed"))
            continue
        if p.check:
            ok, why = validate_interleaved(text)
            if not ok:
                results.append(quarantined(row, why, "abc_invalid"))
                continue
        try:
            patches = patchify(text, p.patch_size)
        except Exception as e:  # noqa: BLE001
            results.append(quarantined(row, e, "abc_not_ascii"))
            continue
        ids = [ord(c) for patch in patches for c in patch]
        res = accepted(row, ids, n_patches=len(patches), **(prompt if p.prompt else {}))
        results.append(res | {"text": text})
    return results


@task(name="tokenize-abc-shard")
def tokenize_abc_shard(rows: list[dict], p: AbcTokenizeParams, ingest_dir: str) -> list[dict]:
    return tokenize_rows(rows, p, ingest_dir)


@flow(name="abc_tokenize")
def tokenize_abc() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, rt, root = load_section("abc_tokenize"), load_section("runtime"), repo_root()
    rows = read_jsonl(root / INGEST / "index.jsonl")
    log.info("tokenize_abc: %d pieces, patch size %d", len(rows), p.patch_size)
    with StageOutputs("abc_tokenize", [OUT, REPORT]) as out:
        results = map_shards(tokenize_abc_shard, rows, max(1, rt.shard_size // 2), p=p,
                             ingest_dir=str(root / INGEST))
        stats = write_dataset(out[OUT], rows, results, VOCAB_SIZE)
        by_id = {r["id"]: r for r in results if r["ok"]}
        for split in SPLITS:
            texts = [{"id": row["id"], "text": by_id[row["id"]]["text"],
                      "n_patches": by_id[row["id"]]["label"]["n_patches"]}
                     for row in rows if row.get("split") == split and row["id"] in by_id]
            write_jsonl(texts, out[OUT] / split / "texts.jsonl")
            stats["splits"][split]["patches"] = sum(t["n_patches"] for t in texts)
            stats["splits"][split]["chars"] = sum(len(t["text"]) for t in texts)
        info = {"name": "abc-char-patch", "vocab_size": VOCAB_SIZE, "patch_size": p.patch_size,
                "pad_id": ord(PAD_CHAR), "bos_id": ord(BOS_CHAR), "eos_id": ord(EOS_CHAR),
                "bos_patch": [ord(c) for c in patchify("", p.patch_size)[0]],
                "eos_patch": [ord(c) for c in patchify("", p.patch_size)[-1]]}
        write_json(out[OUT] / "tokenizer.json", info)
        stats |= {"tokenizer": "abc-char-patch", "patch_size": p.patch_size}
        write_json(out[REPORT] / "stats.json", stats)
        out.commit(params_dump("abc_tokenize"), inputs=[INGEST], extra={"tokenizer": info})
    log.info("tokenize_abc: %d tokenized, %d rejected %s, patches %s, char use %.3f (%.1f s)",
             stats["tokenized"], stats["rejected"], stats["rejects_by_reason"],
             {s: v["patches"] for s, v in stats["splits"].items()}, stats["vocab_use"],
             time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(tokenize_abc)
