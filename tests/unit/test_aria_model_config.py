"""The Aria model-config idiom: ``ModelConfig.from_name`` over ``CONFIGS``, and the params that name it."""

import dataclasses
import re
from pathlib import Path
from typing import get_args

import pytest

from pipeline.aria.model_config import CONFIGS, ModelConfig
from pipeline.params.aria import AriaModelKey, AriaPretrainParams
from pipeline.train.named_config import ModelConfigError

pytestmark = pytest.mark.unit

FROM_DATA = {"vocab_size", "max_seq_len"}  # set by the job from the tokenizer and the packed rows
FROM_STAGE = {"emb_size"}  # aria_contrastive.emb_size; an LM never has it


def test_override_keys_are_the_user_settable_config_fields():
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    assert set(get_args(AriaModelKey)) == fields - FROM_DATA - FROM_STAGE


def test_model_names_are_the_configs():
    assert set(get_args(AriaPretrainParams.model_fields["model"].annotation)) == set(CONFIGS)


def test_unknown_override_key_is_rejected_naming_the_allowed_ones():
    assert AriaPretrainParams(model_overrides={"d_model": 64}).model_overrides == {"d_model": 64}
    with pytest.raises(Exception, match="d_model.*grad_checkpoint"):
        AriaPretrainParams(model_overrides={"vocab_size": 10})


def test_from_name_applies_overrides_and_names_what_is_allowed():
    cfg = ModelConfig.from_name("tiny", n_layers=2, vocab_size=100)
    assert (cfg.n_layers, cfg.vocab_size, cfg.d_model) == (2, 100, CONFIGS["tiny"].d_model)
    assert CONFIGS["tiny"].n_layers == 4  # the table is never changed
    with pytest.raises(ModelConfigError, match="known: \\['medium', 'small', 'tiny'\\]"):
        ModelConfig.from_name("huge")
    with pytest.raises(ModelConfigError, match="unknown Aria model config keys \\['depth'\\]"):
        ModelConfig.from_name("tiny", depth=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIGS["tiny"].d_model = 1


def test_every_config_says_where_its_numbers_come_from():
    src = (Path(__file__).resolve().parents[2] / "pipeline/aria/model_config.py").read_text()
    table = src[src.index("CONFIGS: dict") :]
    for name in CONFIGS:
        assert re.search(rf"# (ours|upstream): [^\n]+\n\s+\"{name}\":", table), name
