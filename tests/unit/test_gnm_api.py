"""GnM's public entry points stay the same objects; its model configs follow the from_name idiom;
the tokenize split is upstream's."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import pipeline.gnm as gnm
from pipeline.gnm.model import CONFIGS, GnmConfig
from pipeline.gnm.tokenize import split_rows
from pipeline.params.gnm import GnmModelParams
from pipeline.train.named_config import ModelConfigError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", gnm.__all__)
def test_entry_points_read_twice_are_the_same_function(name):
    first, second = getattr(gnm, name), getattr(gnm, name)
    assert first is second and callable(first) and first.__name__ == name
    for sub in pkgutil.iter_modules(gnm.__path__):  # importing every submodule changes nothing
        importlib.import_module(f"pipeline.gnm.{sub.name}")
    assert getattr(gnm, name) is first
    assert name not in {m.name for m in pkgutil.iter_modules(gnm.__path__)}


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gnm.nope  # noqa: B018


def test_params_model_keys_are_config_fields_and_tiny_is_the_params_default():
    fields = {f.name for f in dataclasses.fields(GnmConfig)}
    keys = set(GnmModelParams.model_fields)
    assert keys == fields - {"vocab_size", "max_seq_len"}  # the vocabulary and length come from the data
    default = GnmModelParams().model_dump()
    default.pop("adapter_positions")  # the mastery stage's positions; the generality model has none
    assert {k: getattr(CONFIGS["tiny"], k) for k in default} == default
    assert CONFIGS["tiny"].adapter_positions == ()


def test_from_name_overrides_and_names_what_is_allowed():
    up = GnmConfig.from_name("generality")
    shape = (up.n_layers, up.d_model, up.n_heads, up.d_ff, up.vocab_size, up.max_seq_len)
    assert shape == (12, 512, 8, 2048, 251, 2400)
    cfg = GnmConfig.from_name("tiny", vocab_size=40, adapter_positions=[1])
    assert cfg.vocab_size == 40 and cfg.adapter_positions == (1,) and CONFIGS["tiny"].vocab_size == 251
    with pytest.raises(ModelConfigError, match="known: \\['generality', 'tiny'\\]"):
        GnmConfig.from_name("huge")
    with pytest.raises(ModelConfigError, match="allowed"):
        GnmConfig.from_name("tiny", width=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.d_model = 8


def test_split_rows_per_group_as_upstream():
    rows = [{"id": f"{g}{i}"} for g in "ab" for i in range(5)] + [{"id": "c0"}]
    group = {r["id"]: r["id"][0] for r in rows}
    split = split_rows(rows, group, 0.2, seed=42)
    assert split == split_rows(list(reversed(rows)), group, 0.2, seed=42)  # sorted before the shuffle
    assert [sum(split[f"{g}{i}"] == "val" for i in range(5)) for g in "ab"] == [1, 1]
    assert split["c0"] == "train"  # a group of one keeps its piece
