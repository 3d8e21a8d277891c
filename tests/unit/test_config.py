"""Typed params: unknown or mistyped keys fail fast naming the key and the file."""

import pytest
import yaml

from pipeline.config import ParamsError, load_section, validate_all

pytestmark = pytest.mark.unit


def write(tmp_path, data):
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_repo_params_validate():
    sections = validate_all()
    assert sections["base"].seed == 42
    assert sections["runtime"].workers >= 1


def test_unknown_key_names_key_and_file(tmp_path):
    p = write(tmp_path, {"segment": {"min_s": 3, "max_s": 5, "drop_under_s": 1, "mn_s": 2}})
    with pytest.raises(ParamsError) as e:
        load_section("segment", p)
    assert "segment.mn_s" in str(e.value) and str(p) in str(e.value)


def test_mistyped_value(tmp_path):
    p = write(tmp_path, {"segment": {"min_s": "fifteen"}})
    with pytest.raises(ParamsError, match=r"segment\.min_s"):
        load_section("segment", p)


def test_unknown_section(tmp_path):
    p = write(tmp_path, {"segmnt": {}})
    with pytest.raises(ParamsError, match="segmnt"):
        load_section("base", p)


def test_nested_unknown_key_in_ingest_limits(tmp_path):
    data = yaml.safe_load(open("params.yaml"))
    data["ingest"]["limits"]["max_notez"] = 3
    p = write(tmp_path, data)
    with pytest.raises(ParamsError, match=r"ingest\.limits\.max_notez"):
        load_section("ingest", p)


def test_segment_range_checked(tmp_path):
    p = write(tmp_path, {"segment": {"min_s": 10, "max_s": 5}})
    with pytest.raises(ParamsError, match="max_s"):
        load_section("segment", p)


def test_params_classes_are_named_after_their_sections():
    from pipeline.params import SECTIONS

    for name, cls in SECTIONS.items():
        want = "".join(part.capitalize() for part in name.split("_")) + "Params"
        assert cls.__name__ == want, f"section {name!r} is modelled by {cls.__name__}, name it {want}"
