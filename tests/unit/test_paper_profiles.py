"""The paper profiles: each names every file the user must supply in one error, and validates (merged
into params.yaml, like ``ostinato params check --profile``) once those paths hold files."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.commands.params import UNSET, apply_profile, check_profile, leaves

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

REPO = Path(__file__).resolve().parents[2]
PAPERS = ("paper-aria", "paper-valle", "paper-gnm", "paper-notagen")


def repo_copy(tmp_path: Path) -> Path:
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    return tmp_path


def unset_keys(name: str) -> dict[str, str]:
    tree = yaml.safe_load((REPO / "profiles" / f"{name}.yaml").read_text())
    return {k: v for k, v in leaves(tree) if isinstance(v, str) and UNSET in v}


def fill(root: Path, name: str) -> None:
    """Replace each SET-ME value by the path it names, holding a tiny file (a folder for sources)."""
    prof = root / "profiles" / f"{name}.yaml"
    text = prof.read_text()
    for key, value in unset_keys(name).items():
        rel = value.split()[1].rstrip(":")
        path = root / rel
        if key.endswith(".path"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\0")
        text = text.replace(f'"{value}"', rel)
    prof.write_text(text)


@pytest.mark.parametrize("name", PAPERS)
def test_every_unset_path_is_named_in_one_error(name, tmp_path):
    root = repo_copy(tmp_path)
    keys = unset_keys(name)
    assert any(k.endswith(".init") for k in keys) and all(v.startswith(f"{UNSET} ") for v in keys.values())
    with pytest.raises(ValueError) as err:
        check_profile(name, root)
    msg = str(err.value)
    assert "\n" not in msg and f"{name}.yaml" in msg and f"{len(keys)} unset" in msg
    assert all(f"{k} ({v})" in msg for k, v in keys.items())
    with pytest.raises(ValueError, match="fill in the paths first"):
        apply_profile(name, root)  # params.yaml never gets a placeholder
    assert UNSET not in (root / "params.yaml").read_text()


@pytest.mark.parametrize("name", PAPERS)
def test_profile_validates_once_paths_are_filled(name, tmp_path):
    root = repo_copy(tmp_path)
    fill(root, name)
    sections, rows = check_profile(name, root)
    assert "ingest" in sections and rows
    merged = yaml.safe_load(apply_profile(name, root).read_text())
    for key, value in unset_keys(name).items():
        node = merged
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert node == value.split()[1].rstrip(":") and (root / node).exists()


def test_a_filled_path_that_does_not_exist_is_named(tmp_path):
    root = repo_copy(tmp_path)
    fill(root, "paper-notagen")
    (root / "weights/clamp_train/clamp2.pth").unlink()
    with pytest.raises(ValueError, match=re.escape("1 missing: clamp_train.init (weights/clamp_train/clamp2.pth)")):
        check_profile("paper-notagen", root)


def test_gpu_profile_is_a_full_recipe(tmp_path):
    """Every training section of params.yaml gets its steps, batch and lr from gpu.yaml (none keeps a
    CPU value), the launcher is torchrun, and the shapes are upstream's."""
    root = repo_copy(tmp_path)
    gpu = yaml.safe_load((root / "profiles/gpu.yaml").read_text())
    params = yaml.safe_load((root / "params.yaml").read_text())
    trained = [s for s, v in params.items() if isinstance(v, dict) and "steps" in v and "lr" in v]
    assert len(trained) >= 12
    for s in trained:
        assert {"steps", "batch_size", "lr"} <= set(gpu.get(s, {})), f"gpu.yaml leaves {s} at its CPU recipe"
        assert gpu[s]["steps"] >= params[s]["steps"] * 10, s
    sections, _ = check_profile("gpu", root)
    merged = yaml.safe_load(apply_profile("gpu", root).read_text())
    assert merged["runtime"]["launcher"] == "torchrun" and merged["pack"]["seq_len"] == 8192
    assert merged["aria_contrastive"]["emb_size"] == 512 and merged["aria_contrastive"]["max_tokens"] == 2048
    assert merged["render_audio"]["max_pieces"] is None
    assert all(c["cap"] >= 100000 for c in merged["ingest"]["sources"][0]["collections"].values())
