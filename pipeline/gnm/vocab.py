"""GnM's event dictionary: upstream's ``events2words`` order, PAD appended, with a hash.

Contents: every event string of the corpus, plus ``Note_Pitch_21..108``, plus
``Note_Duration_20..1920`` (step 20), plus ``Composer_{Schumann, Chopin, Bach, Beethoven,
Mozart}``; deduplicated and sorted as plain strings (so ``BOS_None`` < ``Bar_None`` and
``Beat_10`` < ``Beat_2``); ids 0..N-1; ``PAD_None`` = N (every upstream loader appends it).

Released ``dictionary.pkl`` files are read with a restricted unpickler that admits only plain
containers, strings and numbers: anything else raises :class:`UnsafePickleError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from collections.abc import Iterable
from pathlib import Path

PAD = "PAD_None"
UPSTREAM_COMPOSERS = ("Schumann", "Chopin", "Bach", "Beethoven", "Mozart")
_SAFE_GLOBALS = {
    ("collections", "OrderedDict"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
}


class VocabError(ValueError):
    """A vocabulary file is malformed, or a token/composer is not in the vocabulary."""


class UnsafePickleError(VocabError):
    """A pickled dictionary references something other than plain containers/str/numbers."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D401 - pickle hook
        if (module, name) in _SAFE_GLOBALS:
            import builtins
            import collections

            return getattr(collections if module == "collections" else builtins, name)
        raise UnsafePickleError(
            f"dictionary pickle references {module}.{name}; only plain dicts/lists/str/numbers "
            "are accepted (refusing to load it)"
        )


def _plain(obj, depth: int = 0) -> None:
    if depth > 4:
        raise UnsafePickleError("dictionary pickle is nested too deeply")
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _plain(k, depth + 1)
            _plain(v, depth + 1)
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _plain(v, depth + 1)
        return
    raise UnsafePickleError(f"dictionary pickle holds a {type(obj).__name__}")


def read_pickle_dictionary(path: str | Path) -> list[str]:
    """Upstream ``dictionary.pkl`` -> tokens in id order (without PAD)."""
    from pipeline.train.checkpoint_files import sniff

    path = Path(path)
    if not path.is_file():
        raise VocabError(f"no dictionary at {path}")
    why = sniff(path)  # empty, a MIDI file: the same words as for a checkpoint
    if why:
        raise VocabError(f"{path} is not a pickled dictionary: {why}")
    try:
        data = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise VocabError(f"cannot read dictionary {path}: {type(exc).__name__} {exc}".rstrip()) from None
    _plain(data)
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], dict)):
        raise VocabError(f"{path}: expected a pickled (event2word, word2event) pair")
    event2word = data[0]
    ids = sorted(event2word.values())
    if ids != list(range(len(ids))) or not all(isinstance(k, str) for k in event2word):
        raise VocabError(f"{path}: event2word ids are not 0..N-1 over string events")
    return sorted(event2word, key=event2word.__getitem__)


class Vocab:
    """Token strings <-> ids, PAD last."""

    def __init__(self, tokens: Iterable[str]):
        tokens = [t for t in tokens if t != PAD]
        if len(set(tokens)) != len(tokens):
            raise VocabError("vocabulary has duplicate tokens")
        self.tokens = tokens + [PAD]
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    # ------------------------------------------------------------------ build / io
    @classmethod
    def build(cls, corpus_tokens: Iterable[str], extra_composers: Iterable[str] = ()) -> "Vocab":
        words = set(corpus_tokens)
        words |= {f"Note_Pitch_{p}" for p in range(21, 109)}
        words |= {f"Note_Duration_{d}" for d in range(20, 1921, 20)}
        words |= {f"Composer_{c}" for c in (*UPSTREAM_COMPOSERS, *extra_composers)}
        words.discard(PAD)
        return cls(sorted(words))

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        """A ``vocab.json`` (ours), a directory holding one, or an upstream ``dictionary.pkl``."""
        path = Path(path)
        if path.is_dir():
            path = path / "vocab.json"
        if path.suffix == ".pkl":
            return cls(read_pickle_dictionary(path))
        from pipeline.train.checkpoint_files import sniff

        why = sniff(path) if path.is_file() else None
        if why:
            raise VocabError(f"{path} is not a vocabulary: {why}")
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise VocabError(f"cannot read vocabulary {path}: {exc}") from exc
        vocab = cls(data["tokens"])
        if data.get("sha256") and data["sha256"] != vocab.sha256():
            raise VocabError(f"{path}: vocabulary hash mismatch")
        return vocab

    def save(self, out_dir: str | Path) -> dict:
        """``vocab.json`` (tokens in id order + hash) and upstream's ``dictionary.pkl``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        info = {"tokens": self.tokens, "size": len(self), "pad_id": self.pad_id, "sha256": self.sha256()}
        (out_dir / "vocab.json").write_text(json.dumps(info, indent=0) + "\n")
        words = self.tokens[:-1]
        e2w = {t: i for i, t in enumerate(words)}
        (out_dir / "dictionary.pkl").write_bytes(pickle.dumps((e2w, dict(enumerate(words))), protocol=4))
        return {k: info[k] for k in ("size", "pad_id", "sha256")}

    def sha256(self) -> str:
        return hashlib.sha256("\n".join(self.tokens).encode()).hexdigest()

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.ids

    @property
    def pad_id(self) -> int:
        return len(self.tokens) - 1

    def id(self, token: str) -> int:
        if token not in self.ids:
            raise VocabError(f"token {token!r} is not in the vocabulary ({len(self)} tokens)")
        return self.ids[token]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        missing = sorted({t for t in tokens if t not in self.ids})
        if missing:
            raise VocabError(f"{len(missing)} event(s) not in the vocabulary, e.g. {missing[:5]}")
        return [self.ids[t] for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        out = []
        for i in ids:
            if not 0 <= int(i) < len(self.tokens):
                raise VocabError(f"id {i} outside the vocabulary (size {len(self)})")
            out.append(self.tokens[int(i)])
        return out

    @property
    def composers(self) -> list[str]:
        return [t[len("Composer_") :] for t in self.tokens if t.startswith("Composer_")]

    def composer_id(self, composer: str | None) -> int:
        from pipeline.gnm.encode import composer_name

        tok = f"Composer_{composer_name(composer)}"
        if tok not in self.ids:
            raise VocabError(f"unknown composer {composer!r} ({tok}); this vocabulary knows {self.composers}")
        return self.ids[tok]

    def ids_with_prefix(self, prefix: str) -> list[int]:
        return [i for i, t in enumerate(self.tokens) if t.startswith(prefix)]
