"""How the planner learns an algorithm's tiles and halo: from the plugin installed here, from a
spec of PIVFLEET_ALGORITHM_SPECS, or from the spec `pivfleet bootstrap` stored in the
deployment (a dispatcher that does not have the spec)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pivfleet.algorithms.registry import (
    check_parameters,
    min_halo_pixels,
    registered_specs,
    tile_mode,
    use_specs,
    use_stored_specs,
)
from pivfleet.core.errors import SettingsError

EXAMPLE = Path(__file__).parents[2] / "examples" / "c_algorithm" / "algorithm.cwl.yml"


def document(name: str, **job: Any) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    spec["id"] = name
    spec["hints"]["pivfleet:Job"] = job
    return spec


@pytest.fixture
def stored() -> Iterator[dict[str, str]]:
    """Specs as a deployment stores them, by name; read through `use_stored_specs`."""
    texts: dict[str, str] = {}
    use_stored_specs(lambda name: (texts[name], f"s3://b/{name}") if name in texts else None)
    yield texts
    use_stored_specs(None)


def test_the_built_in_is_cut_pass_by_pass_with_no_halo_of_its_own() -> None:
    assert (tile_mode("windef"), min_halo_pixels("windef")) == ("passes", 0)


def test_a_spec_in_the_folder_gives_its_tiles_and_halo(tmp_path: Path) -> None:
    spec = document("registry-halo", tiles="halo", haloPixels=40)
    (tmp_path / "halo.cwl.json").write_text(json.dumps(spec))
    assert use_specs(tmp_path) == ["registry-halo"]
    assert (tile_mode("registry-halo"), min_halo_pixels("registry-halo")) == ("halo", 40)
    assert "registry-halo" in [s.name for s in registered_specs()]


def test_an_unknown_algorithm_is_a_halo_black_box(stored: dict[str, str]) -> None:
    assert (tile_mode("registry-nowhere"), min_halo_pixels("registry-nowhere")) == ("halo", 0)


def test_a_stored_spec_is_planned_by_where_the_spec_is_not_installed(
    stored: dict[str, str],
) -> None:
    stored["registry-whole"] = json.dumps(document("registry-whole", tiles="whole"))
    wide = document("registry-wide", tiles="halo", haloPixels=300)
    stored["registry-wide"] = yaml.safe_dump(wide)
    assert tile_mode("registry-whole") == "whole"
    assert (tile_mode("registry-wide"), min_halo_pixels("registry-wide")) == ("halo", 300)


def test_a_bad_stored_spec_names_where_it_was_read(stored: dict[str, str]) -> None:
    stored["registry-bad"] = json.dumps(document("registry-bad") | {"stdout": "x"})
    with pytest.raises(SettingsError, match="s3://b/registry-bad: stdout: unknown key"):
        tile_mode("registry-bad")


def test_a_stored_specs_parameters_are_checked_where_the_run_is_planned(
    stored: dict[str, str],
) -> None:
    """`pivfleet submit` and the dispatcher refuse what the worker would refuse for every pair."""
    stored["registry-params"] = json.dumps(document("registry-params", tiles="halo"))
    check_parameters("registry-params", {"search": 12})
    with pytest.raises(
        SettingsError, match=r"algorithm_parameters \(--param\): .*unknown \['serch'\]"
    ):
        check_parameters("registry-params", {"serch": 12})
    check_parameters("registry-nowhere", {"anything": 1})  # known nowhere here: its workers check
