from pathlib import Path

import pytest

from edge.config import load_site
from gridwatch.configfile import ConfigError

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "configs" / "sites" / "sample-compound.yaml"


def test_sample_site_loads() -> None:
    site = load_site(SAMPLE)
    assert site.site_id == "yz-jinsong-01"
    assert {b.payload for b in site.buttons} == {"gridwatch", "zigbee2mqtt"}
    assert site.cameras[0].zones[0].kind == "fire_lane"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def test_error_names_file_line_field_and_value(tmp_path: Path) -> None:
    text = SAMPLE.read_text().replace("lat: 37.86151", "lat: 137.86151")
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_site(path)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "137.86151" in l)
    assert err.value.problems == [
        f"{path}:{line}: buttons[0].lat: Input should be less than or equal to 90 (value: 137.86151)"
    ]


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "site_id: s\nlat: 1\nlon: 2\nbutons: []\n")
    with pytest.raises(ConfigError) as err:
        load_site(path)
    assert err.value.problems == [f"{path}:4: butons: Extra inputs are not permitted"]


def test_cross_field_check_fails_loudly(tmp_path: Path) -> None:
    button = "  - {{id: b1, topic: {t}, lat: 1, lon: 2}}\n"
    path = _write(tmp_path, "site_id: s\nlat: 1\nlon: 2\nbuttons:\n" + button.format(t="x") + button.format(t="x"))
    with pytest.raises(ConfigError) as err:
        load_site(path)
    assert "device ids must be unique" in err.value.problems[0]


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "site_id: [unclosed\n"])
def test_unusable_files_are_rejected_with_a_reason(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_site(_write(tmp_path, text))
    assert err.value.problems and str(tmp_path) in err.value.problems[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_site(tmp_path / "nope.yaml")
