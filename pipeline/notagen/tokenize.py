"""Stage ``abc_tokenize``'s work: every ingested score -> NotaGen-style interleaved ABC + patch ids.

Each text starts with the ``%period`` / ``%composer`` / ``%instrumentation`` prompt lines
(instrumentation from ``abc_tokenize.instrumentation[genre]``, else from the number of parts),
is checked with ``validate_interleaved`` and cut into 16-character patches (BOS/EOS patches
included); the ids are the characters' ASCII codes (0 pad, 1 BOS, 2 EOS), patch after patch.

Sheet-music pieces (ingest rows with an ``abc`` file: xml2abc's output or a user's ABC tune) skip
music21: upstream's own preparation (``pipeline.notagen.abc_prep``) makes their interleaved text, their
prompt lines are the labels as written (``row["prompt"]``), and the check is upstream's (equal bar counts),
since music21's ABC reader refuses some legal xml2abc output.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.token_store import SPLITS, accepted, quarantined, write_dataset
from pipeline.notagen.abc import (
    BOS_CHAR,
    EOS_CHAR,
    PAD_CHAR,
    abc_tune_to_interleaved,
    patchify,
    score_to_interleaved_abc,
    validate_interleaved,
)
from pipeline.notagen.abc_prep import standard_to_interleaved
from pipeline.params.notagen import AbcTokenizeParams

VOCAB_SIZE = 128  # ASCII characters; 0 pad, 1 BOS, 2 EOS


def instrumentation(row: dict, p: AbcTokenizeParams) -> str:
    """Prompt label as the source wrote it, else from the genre, else: 1 part Voice, 2 parts Keyboard, 3+ Chamber."""
    if (row.get("prompt") or {}).get("instrumentation"):
        return row["prompt"]["instrumentation"]
    genre = row.get("genre")
    if genre in p.instrumentation:
        return p.instrumentation[genre]
    n = row.get("n_parts") or 1
    return "Voice" if n <= 1 else "Keyboard" if n == 2 else "Chamber"


def prompt_lines(row: dict, p: AbcTokenizeParams) -> dict:
    composer = row.get("composer") or "unknown"
    given = row.get("prompt") or {}
    return {
        "period": given.get("period") or (row.get("period") or "unknown").title(),
        "composer": given.get("composer") or p.composer_names.get(composer, composer.title()),
        "instrumentation": instrumentation(row, p),
    }


def with_prompt(text: str, prompt: dict) -> str:
    """NotaGen's prompt lines (``%period``, ``%composer``, ``%instrumentation``) before the tune."""
    return "".join(f"%{prompt[k]}\n" for k in ("period", "composer", "instrumentation")) + text


def interleaved_text(row: dict, p: AbcTokenizeParams, ingest_dir: Path, prompt: dict) -> str:
    from music21 import converter

    kwargs = prompt if p.prompt else {}
    if row.get("abc"):
        text = standard_to_interleaved((ingest_dir / row["abc"]).read_text(encoding="utf-8"))
        return with_prompt(text, prompt) if p.prompt else text
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
        if not row.get("abc") and not row.get("score") and not p.from_midi:
            results.append(
                quarantined(
                    row,
                    "no score file (MIDI-only piece); tokenize_abc.from_midi: true transcribes the MIDI instead",
                    "no_score",
                )
            )
            continue
        src = row.get("abc") or row.get("score") or row["midi"]
        if not (Path(ingest_dir) / src).is_file():
            results.append(quarantined(row, f"no such file: {src}", "missing_file"))
            continue
        prompt = prompt_lines(row, p)
        try:
            text = interleaved_text(row, p, Path(ingest_dir), prompt)
        except Exception as e:  # noqa: BLE001 - quarantine, never crash the stage
            results.append(quarantined(row, e, "abc_conversion_failed"))
            continue
        if p.check and not row.get("abc"):  # sheet pieces were checked by abc_prep, as upstream does
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


def tokenizer_info(patch_size: int) -> dict:
    bos, eos = patchify("", patch_size)[0], patchify("", patch_size)[-1]
    return {
        "name": "abc-char-patch",
        "vocab_size": VOCAB_SIZE,
        "patch_size": patch_size,
        "pad_id": ord(PAD_CHAR),
        "bos_id": ord(BOS_CHAR),
        "eos_id": ord(EOS_CHAR),
        "bos_patch": [ord(c) for c in bos],
        "eos_patch": [ord(c) for c in eos],
    }


def write_store(out_dir: Path, rows: list[dict], results: list[dict], patch_size: int) -> tuple[dict, dict]:
    """The token store (tokens, index, labels, rejected.jsonl), each split's texts.jsonl and
    tokenizer.json; returns (stats, tokenizer info)."""
    stats = write_dataset(out_dir, rows, results, VOCAB_SIZE)
    by_id = {r["id"]: r for r in results if r["ok"]}
    for split in SPLITS:
        texts = [
            {"id": r["id"], "text": by_id[r["id"]]["text"], "n_patches": by_id[r["id"]]["label"]["n_patches"]}
            for r in rows
            if r.get("split") == split and r["id"] in by_id
        ]
        write_jsonl(texts, out_dir / split / "texts.jsonl")
        stats["splits"][split]["patches"] = sum(t["n_patches"] for t in texts)
        stats["splits"][split]["chars"] = sum(len(t["text"]) for t in texts)
    info = tokenizer_info(patch_size)
    write_json(out_dir / "tokenizer.json", info)
    return stats | {"tokenizer": "abc-char-patch", "patch_size": patch_size}, info
