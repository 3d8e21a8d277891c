"""The text side of our CLaMP: a piece's metadata as lines, and a character tokenizer.

Upstream pairs each score with its metadata and GPT-4 summaries, tokenised by XLM-R's
SentencePiece (a download). Ours is built from the index labels every piece has (composer,
period, genre, instrumentation, parts, key, meter) and a character-level vocabulary in XLM-R's
id convention (0 <s>, 1 <pad>, 2 </s>, 3 <unk>), so it needs nothing from the hub. Lines are
de-duplicated in their original order (upstream's ``set()`` made the order hash-seed dependent).
"""

from __future__ import annotations

import numpy as np

from pipeline.clamp.patches import to_ascii

CLS_ID, PAD_ID, SEP_ID, UNK_ID = 0, 1, 2, 3
OFFSET = 4
VOCAB_SIZE = OFFSET + 128
FIELDS = ("composer", "period", "genre", "instrumentation", "n_parts", "key_mode", "time_signature")


def metadata_lines(label: dict) -> list[str]:
    """'field: value' per known, non-empty label field, in a fixed order."""
    out = []
    for f in FIELDS:
        v = label.get(f)
        if v in (None, "", "unknown"):
            continue
        name = "parts" if f == "n_parts" else f.replace("_", " ")
        out.append(f"{name}: {v}")
    return out


def encode_text(lines: list[str], max_len: int) -> list[int]:
    """<s> line </s> line ... </s>, cut to ``max_len`` ids (the last kept id stays </s>)."""
    seen, ids = set(), [CLS_ID]
    for ln in lines:
        ln = to_ascii(ln.strip())
        if not ln or ln in seen:
            continue
        seen.add(ln)
        ids += [OFFSET + ord(c) if ord(c) < 128 else UNK_ID for c in ln] + [SEP_ID]
    if len(ids) > max_len:
        ids = ids[: max_len - 1] + [SEP_ID]
    return ids


def drop_lines(lines: list[str], rng: np.random.Generator, p: float) -> list[str]:
    """Text dropout (upstream augmentation): drop each line with prob ``p``, keep at least one."""
    if not lines or p <= 0:
        return list(lines)
    keep = [ln for ln in lines if rng.random() >= p]
    return keep or [lines[int(rng.integers(len(lines)))]]
