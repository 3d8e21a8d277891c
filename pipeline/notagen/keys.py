"""Key transposition of interleaved ABC with abctoolkit (NotaGen's own toolkit), the way
upstream's data preparation does it: un-rotate to one section per voice, ``transpose_an_abc_text``
to a destination key signature, rotate back to one line per bar.

* Pretraining: one of the 15 key signatures (Cb .. C#), uniformly.
* Fine-tuning: a shift of -3..+3 semitones of the piece's key signature with weights
  1,2,3,4,3,2,1 / 16; where the target has two spellings (Db/C#, Gb/F#, Cb/B) one is drawn
  with equal probability (upstream draws enharmonics with fixed probabilities of its own).

Prompt lines (single ``%``) stay on top, untouched.  Failures raise :class:`TransposeError`.
"""

from __future__ import annotations

import re

import numpy as np

KEYS_15 = ("C#", "F#", "B", "E", "A", "D", "G", "C", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb")
_PC = {
    "C": 0,
    "C#": 1,
    "Db": 1,
    "D": 2,
    "Eb": 3,
    "E": 4,
    "F": 5,
    "F#": 6,
    "Gb": 6,
    "G": 7,
    "Ab": 8,
    "A": 9,
    "Bb": 10,
    "B": 11,
    "Cb": 11,
}
SHIFT_WEIGHTS = {-3: 1, -2: 2, -1: 3, 0: 4, 1: 3, 2: 2, 3: 1}


class TransposeError(ValueError):
    """abctoolkit could not transpose this text (reason in the message)."""


def _prompt_split(text: str) -> tuple[list[str], list[str]]:
    lines = [line + "\n" for line in text.split("\n") if line.strip()]
    k = 0
    while k < len(lines) and lines[k].startswith("%") and not lines[k].startswith("%%"):
        k += 1
    return lines[:k], lines[k:]


def key_signature(text: str) -> str:
    """The global ``K:`` field as its major key signature name (``K:F#m`` -> ``A``)."""
    from abctoolkit.transpose import lookup_key_according_to_keymode

    m = re.search(r"^K:\s*(\S+)", text, re.M)
    if not m:
        raise TransposeError("no K: field")
    try:
        return lookup_key_according_to_keymode(m.group(1))
    except (KeyError, IndexError) as e:
        raise TransposeError(f"unknown key {m.group(1)!r}") from e


def transpose(text: str, des_key: str) -> str:
    """Interleaved ABC -> the same piece with key signature ``des_key`` (one of KEYS_15)."""
    from abctoolkit.rotate import rotate_abc, unrotate_abc
    from abctoolkit.transpose import transpose_an_abc_text

    prompt, rest = _prompt_split(text)
    try:
        flat = unrotate_abc(list(rest))
        moved = transpose_an_abc_text(flat, des_key)
        lines = rotate_abc([line + "\n" for line in moved.split("\n") if line.strip()])
    except Exception as e:  # noqa: BLE001 - abctoolkit raises bare Exceptions / KeyErrors
        raise TransposeError(f"abctoolkit: {type(e).__name__}: {e}") from e
    return "".join(prompt + lines)


def random_key(rng: np.random.Generator) -> str:
    """Pretraining: one of the 15 key signatures, uniformly."""
    return KEYS_15[int(rng.integers(len(KEYS_15)))]


def shifted_key(key: str, rng: np.random.Generator) -> str:
    """Fine-tuning: the key signature -3..+3 semitones away, weighted 1,2,3,4,3,2,1."""
    shifts = list(SHIFT_WEIGHTS)
    w = np.array([SHIFT_WEIGHTS[s] for s in shifts], dtype=float)
    shift = shifts[int(rng.choice(len(shifts), p=w / w.sum()))]
    pc = (_PC[key] + shift) % 12
    names = [k for k in KEYS_15 if _PC[k] == pc]
    return names[int(rng.integers(len(names)))]


def round_trips(text: str) -> bool:
    """abctoolkit's rotate(unrotate(text)) == text: our writer's body matches upstream's layout."""
    from abctoolkit.rotate import rotate_abc, unrotate_abc

    prompt, rest = _prompt_split(text)
    try:
        return rotate_abc(unrotate_abc(list(rest))) == rest
    except Exception:  # noqa: BLE001
        return False


def canonical(text: str) -> str:
    """The text as upstream's pipeline lays it out: abctoolkit ``rotate_abc(unrotate_abc(.))``
    (e.g. no space before a closing ``:|``).  Unchanged when abctoolkit cannot parse it, or when
    its round trip changes more than spaces (it drops a left repeat ``|:`` opening the first bar)."""
    from abctoolkit.rotate import rotate_abc, unrotate_abc

    prompt, rest = _prompt_split(text)
    try:
        out = "".join(prompt + rotate_abc(unrotate_abc(list(rest))))
    except Exception:  # noqa: BLE001
        return text
    return out if out.replace(" ", "") == text.replace(" ", "") else text
