"""Released weights as a training stage's ``init``: where DVC can see them, ``steps: 0`` imports
them unchanged (model dir, metrics, manifest), training starts from them, misfits are refused."""

import json

import numpy as np
import pytest
import torch
from jobs import cpu_job
from test_clamp import PIECE, TINY, save_upstream
from test_clamp_train import lines, text
from test_gnm_jobs import store  # noqa: F401 - the token-store fixture

from pipeline.aria.load import TOK_EMB
from pipeline.clamp import load
from pipeline.clamp.model import ClampConfig, ClampModel, M3Model
from pipeline.clamp.text import VOCAB_SIZE
from pipeline.config import ParamsError, load_section
from pipeline.params.clamp import ClampTrainParams
from pipeline.train.released import resolve_init

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A repo root with a token store, weights/<stage>/ folders; each test writes its params.yaml."""
    monkeypatch.setenv("OSTINATO_ROOT", str(tmp_path))
    for split, ids in (("train", range(6)), ("val", range(6, 8))):
        d = tmp_path / "data/tokens/abc" / split
        d.mkdir(parents=True)
        (d / "texts.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "text": text(i)}) + "\n" for i in ids))
        (d / "labels.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "n_parts": 2}) + "\n" for i in ids))
    for stage in ("clamp_train", "valle_train", "codec_train"):
        (tmp_path / "weights" / stage).mkdir(parents=True)
    return tmp_path


def params(root, **clamp_train):
    (root / "params.yaml").write_text(json.dumps({"base": {"seed": 1}, "clamp_train": clamp_train}))


def run_stage(root):
    from pipeline.clamp.released import import_init
    from pipeline.clamp.train_job import ENTRY
    from pipeline.orchestration.training import train_stage

    return train_stage(
        "clamp_train",
        ENTRY,
        model="models/clamp_train",
        report="reports/clamp_train",
        deps=["data/tokens/abc"],
        inputs={"store": str(root / "data/tokens/abc")},
        import_init=import_init,
    )


# ----------------------------------------------------------------------------- where init may lie
def test_init_must_be_where_dvc_sees_it(root, tmp_path_factory):
    (root / "weights/clamp_train/c.pth").write_bytes(b"x")
    assert resolve_init("clamp_train", None, root) is None and resolve_init("clamp_train", "", root) is None
    assert resolve_init("clamp_train", "weights/clamp_train/c.pth", root) == "weights/clamp_train/c.pth"
    assert resolve_init("clamp_train", str(root / "weights/clamp_train/c.pth"), root) == "weights/clamp_train/c.pth"
    # one of the stage's own inputs (e.g. our model dir a fine-tune already reads)
    assert resolve_init("clamp_train", "data/tokens/abc/train", root, ["data/tokens/abc"]) == "data/tokens/abc/train"
    outside = tmp_path_factory.mktemp("elsewhere") / "c.pth"
    outside.write_bytes(b"x")
    for bad in (str(outside), "weights/abc_pretrain/c.pth", "weights/clamp_train/../c.pth", "data/tokens/abc"):
        with pytest.raises(ValueError, match=r"^clamp_train\.init: .* outside weights/clamp_train/ .*copy or link"):
            resolve_init("clamp_train", bad, root)
    with pytest.raises(FileNotFoundError, match=r"clamp_train\.init: .*missing\.pth does not exist"):
        resolve_init("clamp_train", "weights/clamp_train/missing.pth", root)


def test_steps_zero_needs_init(root):
    params(root, steps=0)
    with pytest.raises(ParamsError, match="steps: 0 imports `init`"):
        load_section("clamp_train")
    p = ClampTrainParams(steps=0, init="weights/clamp_train/c.pth")  # no warm-up to check against 0 steps
    assert p.steps == 0 and p.warmup_steps > 0
    with pytest.raises(ValueError, match="steps"):
        ClampTrainParams(steps=-1)


# ----------------------------------------------------------------------------- steps 0: import
def test_steps_zero_imports_a_released_clamp2_checkpoint_unchanged(root):
    torch.manual_seed(0)
    released = ClampModel(ClampConfig(**TINY))  # XLM-R-sized text ids in miniature: not our vocabulary
    save_upstream(released, root / "weights/clamp_train/clamp2.pth", optimizer={"state": {}})
    params(root, init="weights/clamp_train/clamp2.pth", steps=0, hidden=128, layers=3)
    metrics = run_stage(root)

    model = root / "models/clamp_train"
    assert sorted(p.name for p in model.iterdir()) == ["clamp.pth", "config.json", "environment.json", "manifest.json"]
    blob = torch.load(model / "clamp.pth", weights_only=True)
    assert set(blob) == {"model", "epoch", "best_epoch", "min_eval_loss"} and blob["epoch"] == 3  # optimizer dropped
    want = load(root / "weights/clamp_train/clamp2.pth").music_features(PIECE)
    got = load(model / "clamp.pth").music_features(PIECE)
    np.testing.assert_array_equal(got, want)  # downstream scores with the released model, bit for bit
    config = json.loads((model / "config.json").read_text())
    assert config["model"]["hidden"] == TINY["hidden"] and config["kind"] == "clamp"  # the checkpoint's shapes win

    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["init"]["path"] == "weights/clamp_train/clamp2.pth"
    assert manifest["inputs"]["weights/clamp_train/clamp2.pth"] == manifest["init"]["hash"]
    report = json.loads((root / "reports/clamp_train/metrics.json").read_text())
    assert report == metrics and report["steps"] == 0 and report["imported"] and report["kind"] == "clamp"
    assert report["parameters"] == sum(t.numel() for t in released.parameters())


def test_steps_zero_refuses_a_file_that_is_not_a_checkpoint(root):
    (root / "weights/clamp_train/clamp2.pth").write_text("not a checkpoint")
    params(root, init="weights/clamp_train/clamp2.pth", steps=0)
    with pytest.raises(ValueError, match=r"clamp2\.pth"):
        run_stage(root)
    assert not (root / "models/clamp_train").exists()  # nothing committed


# ----------------------------------------------------------------------------- steps > 0: fine-tune
SMALL = dict(patch_length=16, text_len=64, text_hidden=32, text_layers=1, m3_steps=2, steps=2, batch_size=2)
SMALL |= dict(lr=1e-3, warmup_steps=1, eval_every=2, checkpoint_every=2)


def test_fine_tune_from_released_m3_adopts_its_shapes(root):
    from pipeline.clamp.train_job import run_job

    torch.manual_seed(0)
    m3 = M3Model(ClampConfig(patch_size=32, patch_length=24, hidden=64, layers=2, proj=None, decoder_layers=2))
    save_upstream(m3, root / "weights/clamp_train/m3.pth")
    p = ClampTrainParams(**SMALL, patch_size=64, hidden=128, layers=1, proj=32, init="weights/clamp_train/m3.pth")
    job = cpu_job("clamp_train", p, root, {"store": str(root / "data/tokens/abc"), "init": str(root / p.init)})
    run_job(job)
    cfg = load(root / "model/clamp.pth").cfg
    assert (cfg.patch_size, cfg.patch_length, cfg.hidden, cfg.layers, cfg.proj) == (32, 24, 64, 2, 32)
    trained = torch.load(root / "model/m3.pth", weights_only=True)["model"]
    start = m3.state_dict()
    assert trained.keys() == start.keys()
    key = "encoder.base.encoder.layer.1.output.dense.weight"
    delta = (trained[key] - start[key]).abs().max()
    assert 0 < delta < 0.1  # two small steps from the released weights, not a fresh init


def test_fine_tune_from_our_clamp_skips_m3_and_continues(root):
    from pipeline.clamp.train_job import run_job

    torch.manual_seed(0)
    ours = ClampModel(ClampConfig(**{**TINY, "patch_size": 32, "text_vocab": VOCAB_SIZE, "text_positions": 40}))
    save_upstream(ours, root / "weights/clamp_train/clamp.pth")
    p = ClampTrainParams(**SMALL, init="weights/clamp_train/clamp.pth")
    job = cpu_job("clamp_train", p, root, {"store": str(root / "data/tokens/abc"), "init": str(root / p.init)})
    metrics = run_job(job)
    assert not (root / "model/m3.pth").exists() and metrics["m3_val_loss"] is None
    scorer = load(root / "model/clamp.pth")
    assert scorer.cfg == ours.cfg.__class__(**{**ours.cfg.to_dict(), "intermediate": 4 * TINY["hidden"]})
    assert scorer.text_features(lines(0)).shape == (TINY["proj"],)  # text_len 38 from the checkpoint, not 64
    assert json.loads((root / "model/config.json").read_text())["init"] == "clamp.pth"


def test_fine_tune_refuses_a_text_tower_that_is_not_ours(root):
    from pipeline.clamp.train_job import run_job

    save_upstream(ClampModel(ClampConfig(**TINY)), root / "weights/clamp_train/clamp2.pth")
    p = ClampTrainParams(**SMALL, init="weights/clamp_train/clamp2.pth")
    job = cpu_job("clamp_train", p, root, {"store": str(root / "data/tokens/abc"), "init": str(root / p.init)})
    msg = rf"clamp2\.pth has a text tower of {TINY['text_vocab']} tokens, .* vocabulary has {VOCAB_SIZE}"
    with pytest.raises(ValueError, match=msg):
        run_job(job)


# ----------------------------------------------------------------------------- NotaGen
@pytest.fixture
def abc_root(root):
    from test_notagen_data import RAW

    for split, n in (("train", 3), ("val", 1)):
        rows = [{"id": f"{split}{i}", "text": RAW, "n_patches": 0} for i in range(n)]
        (root / "data/tokens/abc" / split / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def released_notagen(path, seed=0, **cfg):
    from pipeline.notagen.checkpoint import save_upstream
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel

    torch.manual_seed(seed)
    model = NotaGenModel(NotaGenConfig(**{"hidden": 64, "patch_layers": 1, "char_layers": 1, **cfg})).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_upstream(model, path, epoch=7, min_eval_loss=0.5)
    return model


def run_notagen(root, stage):
    from pipeline.notagen.released import import_init
    from pipeline.notagen.train_job import ENTRY
    from pipeline.orchestration.training import train_stage

    tokens = str(root / "data/tokens/abc")
    return train_stage(
        stage,
        ENTRY,
        model=f"models/{stage}",
        report=f"reports/{stage}",
        deps=["data/tokens/abc"],
        inputs={"tokens": tokens, "keep_prompt": stage == "abc_finetune"},
        import_init=import_init,
    )


def test_notagen_steps_zero_imports_a_released_pth(abc_root):
    from pipeline.notagen.checkpoint import load

    released = released_notagen(abc_root / "weights/abc_finetune/notagen.pth", patch_length=24)
    (abc_root / "params.yaml").write_text(
        json.dumps({"base": {"seed": 1}, "abc_finetune": {"init": "weights/abc_finetune/notagen.pth", "steps": 0}})
    )
    metrics = run_notagen(abc_root, "abc_finetune")
    model = abc_root / "models/abc_finetune"
    imported = load(model)
    assert imported.config == released.config
    for k, v in released.state_dict().items():
        assert torch.equal(imported.state_dict()[k], v), k
    assert json.loads((model / "prompts.json").read_text())[0]["composer"] == "Bach, Johann Sebastian"
    assert metrics["steps"] == 0 and metrics["patch_length"] == 24 and metrics["train_pieces"] == 3
    assert json.loads((model / "manifest.json").read_text())["init"]["path"] == "weights/abc_finetune/notagen.pth"


def test_notagen_refuses_another_patch_size(abc_root):
    released_notagen(abc_root / "weights/abc_pretrain/notagen.pth", patch_size=8)
    (abc_root / "params.yaml").write_text(
        json.dumps({"base": {"seed": 1}, "abc_pretrain": {"init": "weights/abc_pretrain/notagen.pth", "steps": 0}})
    )
    with pytest.raises(ValueError, match=r"notagen\.pth: checkpoint patch size is 8, expected 16"):
        run_notagen(abc_root, "abc_pretrain")


def test_notagen_pretrain_from_a_released_pth_takes_its_shapes(abc_root):
    from pipeline.notagen.checkpoint import load

    released = released_notagen(abc_root / "weights/abc_pretrain/notagen.pth", patch_length=24)
    short = dict(steps=2, batch_size=2, warmup_steps=1, eval_every=2, checkpoint_every=2, transposition="none")
    section = {"init": "weights/abc_pretrain/notagen.pth", "model": "small", **short}
    (abc_root / "params.yaml").write_text(json.dumps({"base": {"seed": 1}, "abc_pretrain": section}))
    run_notagen(abc_root, "abc_pretrain")
    trained = load(abc_root / "models/abc_pretrain")
    assert trained.config == released.config  # not the section's "small"
    key = "patch_level_decoder.base.h.0.mlp.c_fc.weight"
    delta = (trained.state_dict()[key] - released.state_dict()[key]).abs().max()
    assert 0 < delta < 0.1  # trained from the released weights


# ----------------------------------------------------------------------------- Aria
def released_aria(path, head="lm", vocab=None, d=64, seed=0):
    """A released-format Aria .safetensors: spec key layout, no metadata (no config, no tokenizer)."""
    from safetensors.torch import save_file
    from test_aria_jobs import TOK
    from test_nn_aria import spec_state_dict

    sd = spec_state_dict(vocab=vocab or TOK.vocab_size, d=d, n_layers=1, head=head, emb_size=16, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(path))
    return sd


def run_aria(root, stage, section):
    from test_aria_jobs import TOKENIZER

    from pipeline.aria.lm import ENTRY
    from pipeline.aria.released import import_init
    from pipeline.orchestration.training import train_stage

    (root / "params.yaml").write_text(json.dumps({"base": {"seed": 1}, stage: section}))
    (root / "data/pack/aria").mkdir(parents=True, exist_ok=True)
    return train_stage(
        stage,
        ENTRY,
        model=f"models/{stage}",
        report=f"reports/{stage}",
        deps=["data/pack/aria"],
        inputs={"pack": str(root / "data/pack/aria"), "tokenizer": TOKENIZER},
        import_init=import_init,
    )


def test_aria_steps_zero_imports_a_released_lm(root):
    from test_aria_jobs import TOK

    from pipeline.aria.checkpoints import load_checked

    sd = released_aria(root / "weights/aria_pretrain/aria-medium-base.safetensors")
    metrics = run_aria(
        root, "aria_pretrain", {"init": "weights/aria_pretrain/aria-medium-base.safetensors", "steps": 0}
    )
    model_dir = root / "models/aria_pretrain"
    model = load_checked(model_dir, TOK, head="lm")  # as aria_finetune / aria_generate read it
    for k, v in sd.items():
        assert torch.equal(model.state_dict()[k], v), k
    config = json.loads((model_dir / "config.json").read_text())
    assert config["tokenizer_hash"] == TOK.config_hash() and config["model"]["max_seq_len"] == 8192  # released
    assert json.loads((model_dir / "tokenizer.json").read_text())["vocab_size"] == TOK.vocab_size
    assert (
        metrics["steps"] == 0
        and metrics["head"] == "lm"
        and metrics["parameters"] == sum(v.numel() for v in sd.values())
    )


def test_aria_refuses_a_vocabulary_that_is_not_the_tokenizers(root):
    from test_aria_jobs import TOK

    from pipeline.aria.tokenizer import AbsTokenizer

    pedal = AbsTokenizer(include_pedal=True).vocab_size
    assert pedal != TOK.vocab_size
    released_aria(root / "weights/aria_pretrain/pedal.safetensors", vocab=pedal)
    msg = (
        rf"^aria_pretrain\.init: .*pedal\.safetensors has a vocabulary of {pedal} tokens, the tokenizer "
        rf"\(data/tokens/aria/tokenizer\.json\) has {TOK.vocab_size} \(aria_tokenize\.config "
        r"\{'include_pedal': True, 'include_delimiter': False\} fits it\)$"
    )
    with pytest.raises(ValueError, match=msg):
        run_aria(root, "aria_pretrain", {"init": "weights/aria_pretrain/pedal.safetensors", "steps": 0})


def test_aria_contrastive_import_needs_an_embedding_checkpoint(root):
    released_aria(root / "weights/aria_contrastive/base.safetensors", head="lm")
    with pytest.raises(ValueError, match=r"base\.safetensors has no emb_head\.weight: aria_contrastive needs an embed"):
        run_aria(root, "aria_contrastive", {"init": "weights/aria_contrastive/base.safetensors", "steps": 0})


def test_aria_training_starts_from_released_weights(tmp_path):
    from test_aria_jobs import TOK, TOKENIZER, job, pack_dir

    from pipeline.aria.contrastive import start_model
    from pipeline.aria.lm import ENTRY
    from pipeline.train.job import run_training

    sd = released_aria(tmp_path / "lm.safetensors")
    inputs = {"pack": pack_dir(tmp_path), "tokenizer": TOKENIZER, "init": str(tmp_path / "lm.safetensors")}
    pre = job("aria_pretrain", tmp_path, "pre", inputs, model="small")
    run_training(ENTRY, pre)
    config = json.loads((pre.model_dir / "config.json").read_text())["model"]
    assert (config["d_model"], config["n_layers"]) == (64, 1)  # the checkpoint's, not "small"
    emb = released_aria(tmp_path / "emb.safetensors", head="emb", seed=1)
    c = job("aria_contrastive", tmp_path, "c", {"tokenizer": TOKENIZER, "init": str(tmp_path / "emb.safetensors")})
    model = start_model(c, 8, TOK, seed=0)
    assert model.config.emb_size == 16 and torch.equal(model.state_dict()["emb_head.weight"], emb["emb_head.weight"])
    lm_start = job(
        "aria_contrastive", tmp_path, "c2", {"tokenizer": TOKENIZER, "init": str(tmp_path / "lm.safetensors")}
    )
    trunk = start_model(lm_start, 8, TOK, seed=0)
    assert trunk.config.emb_size == 8 and torch.equal(trunk.state_dict()["model.tok_embeddings.weight"], sd[TOK_EMB])


# ----------------------------------------------------------------------------- VALL-E
def run_valle(root, section, codec):
    from pipeline.orchestration.training import train_stage
    from pipeline.valle.released import import_init
    from pipeline.valle.train_job import ENTRY

    (root / "params.yaml").write_text(json.dumps({"base": {"seed": 1}, "valle_train": section}))
    (root / "data/codec_tokenize").mkdir(parents=True, exist_ok=True)
    return train_stage(
        "valle_train",
        ENTRY,
        model="models/valle_train",
        report="reports/valle_train",
        deps=["data/codec_tokenize"],
        inputs={"tokens": str(root / "data/codec_tokenize"), "codec": codec},
        import_init=import_init,
    )


def test_valle_steps_zero_imports_midi_valles_trainer_file(root):
    from test_valle_load import TINY, _trainer_file, _upstream_state

    from pipeline.valle import load as load_valle

    state = _upstream_state()
    released = _trainer_file(root / "weights/valle_train", state)  # best-valid-loss.pt, PosixPaths inside
    codec = {"sample_rate": 32000, "frame_rate": 50.0, "n_q": 4, "bins": 2048}
    metrics = run_valle(root, {"init": "weights/valle_train/best-valid-loss.pt", "steps": 0}, codec)
    model = load_valle(root / "models/valle_train")  # as valle_synthesize reads it
    assert model.cfg == TINY and metrics["steps"] == 0
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, state[k])
    assert json.loads((root / "models/valle_train/config.json").read_text())["imported"] == released.name


def test_valle_refuses_a_codec_with_other_codebooks(root):
    from test_valle_load import _trainer_file, _upstream_state

    _trainer_file(root / "weights/valle_train", _upstream_state())
    codec = {"sample_rate": 32000, "frame_rate": 50.0, "n_q": 8, "bins": 1024}
    msg = r"^valle_train\.init: .*best-valid-loss\.pt: codec has 8 codebooks, VALL-E was trained on 4; .*1024 entries"
    with pytest.raises(ValueError, match=msg):
        run_valle(root, {"init": "weights/valle_train/best-valid-loss.pt", "steps": 0}, codec)


# ----------------------------------------------------------------------------- codec
def run_codec(root, section, sample_rate):
    from pipeline.codec.released import import_init
    from pipeline.codec.train_job import ENTRY
    from pipeline.orchestration.training import train_stage

    (root / "params.yaml").write_text(json.dumps({"base": {"seed": 1}, "codec_train": section}))
    (root / "data/segment").mkdir(parents=True, exist_ok=True)
    inputs = {"train_segments": [], "val_segments": [], "sample_rate": sample_rate, "init_from": None}
    return train_stage(
        "codec_train",
        ENTRY,
        model="models/codec_train",
        report="reports/codec_train",
        deps=["data/segment"],
        inputs=inputs,
        import_init=import_init,
    )


def test_codec_steps_zero_imports_audiocrafts_export_under_its_old_name(root):
    from codec_fixtures import write_audiocraft_export

    from pipeline.codec import load as load_codec

    released = load_codec(write_audiocraft_export(root / "weights/codec_train/compression_32khz_new.bin"))
    section = {"init_from": "weights/codec_train/compression_32khz_new.bin", "steps": 0}  # the old key still reads
    metrics = run_codec(root, section, released.sample_rate)
    imported = load_codec(root / "models/codec_train")  # as codec_tokenize and valle_train read it
    assert imported.cfg == released.cfg and metrics["n_q"] == released.n_q and metrics["steps"] == 0
    for k, v in released.state_dict().items():
        assert torch.equal(imported.state_dict()[k], v), k


def test_codec_refuses_renders_at_another_sample_rate(root):
    from codec_fixtures import write_audiocraft_export

    write_audiocraft_export(root / "weights/codec_train/c.bin")
    with pytest.raises(
        ValueError, match=r"^codec_train\.init: .*c\.bin: audio at 16000 Hz, but this codec takes 32000 Hz"
    ):
        run_codec(root, {"init": "weights/codec_train/c.bin", "steps": 0}, 16000)


# ----------------------------------------------------------------------------- GnM
def upstream_gnm(path, vocab, **shape):
    """Upstream's release: a bare state dict (no config, heads not stored) + dictionary.pkl without PAD."""
    import pickle

    from pipeline.gnm.model import GnmConfig, GnmDecoder

    torch.manual_seed(0)
    cfg = dict(d_model=32, n_heads=8, n_layers=2, d_ff=64, d_word_embed=32, adapter_positions=(), max_seq_len=64)
    model = GnmDecoder(GnmConfig(len(vocab), **(cfg | shape))).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    words = vocab.tokens[:-1]
    with open(path.parent / "dictionary.pkl", "wb") as fh:
        pickle.dump(({w: i for i, w in enumerate(words)}, dict(enumerate(words))), fh)
    return model


def test_gnm_dictionary_becomes_the_vocabulary_and_reports_what_it_lacks(tmp_path):
    from pipeline.gnm.released import adopted_vocab, outside_quarantined
    from pipeline.gnm.vocab import Vocab

    vocab = Vocab.build(["Composer_None", "Bar_None", "Beat_0"], ["Bach", "Mozart"])
    upstream_gnm(tmp_path / "ep120_params.pt", vocab)
    adopted = adopted_vocab(tmp_path / "dictionary.pkl", ["Bach", "Mozart"])
    assert adopted.tokens == vocab.tokens
    with pytest.raises(
        ValueError, match=r"^gnm_tokenize\.vocab: .*dictionary\.pkl has no token for composer\(s\) \['Haydn'\]"
    ):
        adopted_vocab(tmp_path / "dictionary.pkl", ["Bach", "Haydn"])
    ok = {"id": "a", "ok": True, "events": ["Bar_None", "Beat_0"]}
    assert outside_quarantined(ok, {"id": "a"}, adopted) is ok
    bad = outside_quarantined(
        {"id": "b", "ok": True, "events": ["Bar_None", "Beat_7", "Tempo_9"]}, {"id": "b"}, adopted
    )
    assert not bad["ok"] and bad["reason"] == "outside_vocab" and "['Beat_7', 'Tempo_9']" in bad["detail"]


def gnm_stage(root, stage, section, inputs):
    from pipeline.gnm.lm_job import ENTRY
    from pipeline.gnm.released import import_init
    from pipeline.orchestration.training import train_stage

    (root / "params.yaml").write_text(json.dumps({"base": {"seed": 1}, stage: section}))
    return train_stage(
        stage,
        ENTRY,
        model=f"models/{stage}",
        report=f"reports/{stage}",
        inputs=inputs,
        deps=["data/tokens/remi"],
        import_init=import_init,
    )


def test_gnm_pretrain_imports_upstream_weights_with_their_dictionary(root, store):  # noqa: F811
    from pipeline.gnm.checkpoint import load as load_gnm

    tokens, vocab = store
    (root / "data/tokens/remi").symlink_to(tokens)
    released = upstream_gnm(root / "weights/gnm_pretrain/ep120_params.pt", vocab)
    inputs = {"mode": "generality", "tokens": str(tokens), "category": "category", "composers": []}
    section = {"init": "weights/gnm_pretrain/ep120_params.pt", "steps": 0, "model": {"adapter_positions": [1]}}
    metrics = gnm_stage(root, "gnm_pretrain", section, inputs)
    model = load_gnm(root / "models/gnm_pretrain")  # as gnm_finetune / gnm_generate read it
    assert model.config.n_heads == 8 and model.meta["mode"] == "generality" and model.meta["mastery_adapters"] == [1]
    ids = torch.randint(0, len(vocab) - 1, (1, 9))
    with torch.no_grad():
        assert torch.equal(model(ids), released(ids))
    assert metrics["vocab_size"] == len(vocab) and metrics["steps"] == 0
    # the section's model (the default shape) is not the checkpoint's: gnm_scratch, which trains that
    # model as "the generality shape", would not be; the import says so
    assert metrics["model_differs"]["d_model"] == {"gnm_pretrain.model": 128, "checkpoint": 32}
    assert set(metrics["model_differs"]) == {"d_model", "n_heads", "n_layers", "d_ff", "d_word_embed"}


def test_gnm_refuses_weights_whose_dictionary_is_not_the_token_stores(root, store):  # noqa: F811
    from pipeline.gnm.vocab import Vocab

    tokens, vocab = store
    (root / "data/tokens/remi").symlink_to(tokens)
    upstream_gnm(root / "weights/gnm_pretrain/ep120_params.pt", Vocab(vocab.tokens[:-3]))
    inputs = {"mode": "generality", "tokens": str(tokens), "category": "category", "composers": []}
    with pytest.raises(
        ValueError, match=rf"ep120_params\.pt has a vocabulary of {len(vocab) - 2} .* gives {len(vocab)}"
    ):
        gnm_stage(root, "gnm_pretrain", {"init": "weights/gnm_pretrain/ep120_params.pt", "steps": 0}, inputs)


def test_gnm_classifier_import_needs_one_class_per_mastery_composer(root, store):  # noqa: F811
    from pipeline.gnm.checkpoint import load as load_gnm
    from pipeline.gnm.checkpoint import weights_used
    from pipeline.gnm.model import StyleClassifier
    from pipeline.orchestration.stage import hash_path

    tokens, vocab = store
    (root / "data/tokens/remi").symlink_to(tokens)
    torch.manual_seed(0)
    (root / "weights/gnm_classifier").mkdir(parents=True)
    torch.save(StyleClassifier(len(vocab), 2, 32, 8, 1, 64, 0.0).state_dict(), root / "weights/gnm_classifier/clf.pt")
    section = {"init": "weights/gnm_classifier/clf.pt", "steps": 0}
    gnm_stage(root, "gnm_classifier", section, {"tokens": str(tokens), "composers": ["Bach", "Mozart"]})
    clf = load_gnm(root / "models/gnm_classifier")  # as gnm_eval reads it
    assert clf.meta["classes"] == ["Bach", "Mozart"] and clf.cls_head.out_features == 2
    # gnm_eval's report names the released file the classifier came from, not our copy of it
    released = {"path": "weights/gnm_classifier/clf.pt", "hash": hash_path(root / "weights/gnm_classifier/clf.pt")}
    assert weights_used(root / "models/gnm_classifier", root) == {**released, "steps": 0}
    with pytest.raises(ValueError, match=r"clf\.pt has 2 classes, gnm_tokenize\.composers gives 3"):
        gnm_stage(root, "gnm_classifier", section, {"tokens": str(tokens), "composers": ["Bach", "Mozart", "Haydn"]})


def test_gnm_reports_name_the_released_file_or_the_weights_trained_here(root, store):  # noqa: F811
    from pipeline.gnm.checkpoint import weights_used
    from pipeline.gnm.headline import weights_text
    from pipeline.orchestration.stage import hash_path

    tokens, vocab = store
    (root / "data/tokens/remi").symlink_to(tokens)
    upstream_gnm(root / "weights/gnm_pretrain/ep120_params.pt", vocab)
    inputs = {"mode": "generality", "tokens": str(tokens), "category": "category", "composers": []}
    init = {
        "path": "weights/gnm_pretrain/ep120_params.pt",
        "hash": hash_path(root / "weights/gnm_pretrain/ep120_params.pt"),
    }
    section = {"init": init["path"], "steps": 0, "model": {"adapter_positions": [1]}}
    gnm_stage(root, "gnm_pretrain", section, inputs)
    imported = weights_used(root / "models/gnm_pretrain", root)
    assert imported == {**init, "steps": 0}
    loop = {"steps": 2, "batch_size": 2, "seq_len": 16, "warmup_steps": 1, "eval_every": 2, "eval_batches": 1}
    gnm_stage(root, "gnm_pretrain", section | loop, inputs)  # trained from the released weights
    own = root / "models/gnm_pretrain/params.pt"
    trained = weights_used(root / "models/gnm_pretrain", root)
    assert trained == {"path": "models/gnm_pretrain/params.pt", "hash": hash_path(own), "steps": 2, "init": init}
    text = weights_text({"generality": imported, "mastery": trained})
    assert f"generality weights/gnm_pretrain/ep120_params.pt (released, imported; content hash {init['hash']})" in text
    assert f"mastery models/gnm_pretrain/params.pt (trained here, 2 steps from {init['path']}" in text
