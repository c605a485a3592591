"""The documentation tells the truth: run.json's example is valid, every field and every
environment variable the code reads is documented, the plugin example runs as the contract
says, and no link points nowhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator, ValidationError
from pydantic import BaseModel

from pivfleet.algorithms.windef import WindefAlgorithm
from pivfleet.cli.main import main
from pivfleet.core.calibration import Calibration
from pivfleet.core.cost import Prices
from pivfleet.core.spec import Outputs, Pairing, PivSettings, RunSpec
from pivfleet.core.tiling import grid_shape
from tests.synthetic import make_pair, uniform

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
ENV_NAME = re.compile(r"PIVFLEET_[A-Z0-9_]*[A-Z0-9]")
PRODUCT_PATHS = (
    "pivfleet", "worker", "dispatcher", "collector", "scripts", "docker", "examples",
    "terraform", "Makefile", "docker-compose.yml", ".env.example",
)  # fmt: skip
"""Where variables are read: the product, the files that build and run it, and the Makefile
(its test variables are documented too)."""
LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")


def fenced(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), re.MULTILINE | re.DOTALL)


def run_json_example() -> Any:
    (example,) = fenced(DOCS / "run-json.md", "json")
    return json.loads(example)


def printed_schema(capsys: pytest.CaptureFixture[str]) -> Draft202012Validator:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_run_json_example_is_a_run_spec() -> None:
    RunSpec.model_validate(run_json_example())


def test_the_run_json_example_passes_the_schema_pivfleet_schema_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    validator = printed_schema(capsys)
    example = run_json_example()
    validator.validate(example)
    with pytest.raises(ValidationError, match="windowz"):  # the schema is no rubber stamp
        validator.validate({**example, "piv": {**example["piv"], "windowz": [64]}})


def test_the_run_json_example_sets_every_field() -> None:
    example = run_json_example()
    sections = {"": (RunSpec, example), "piv": (PivSettings, example["piv"])}
    sections |= {"pairing": (Pairing, example["pairing"]), "outputs": (Outputs, example["outputs"])}
    sections |= {"calibration": (Calibration, example["calibration"])}
    sections |= {"prices": (Prices, example["prices"])}
    for name, (model, given) in sections.items():
        missing = set(model.model_fields) - set(given)
        assert not missing, f"docs/run-json.md's example leaves out {name or 'run'}: {missing}"


@pytest.mark.parametrize(
    ("model", "prefix"),
    [
        (RunSpec, ""),
        (PivSettings, ""),
        (Pairing, "pairing."),
        (Outputs, "outputs."),
        (Calibration, ""),
        (Prices, ""),
    ],
)
def test_every_run_json_field_is_in_a_table(model: type[BaseModel], prefix: str) -> None:
    rows = "\n".join(
        line for line in (DOCS / "run-json.md").read_text().splitlines() if line.startswith("|")
    )
    nested = {"pairing", "outputs"}  # documented by their own fields, `pairing.mode`
    names = [n for n in model.model_fields if model is not RunSpec or n not in nested]
    missing = [n for n in names if f"| `{prefix}{n}` |" not in rows]
    assert not missing, f"docs/run-json.md has no table row for {missing}"


def product_files() -> list[Path]:
    found = []
    for name in PRODUCT_PATHS:
        path = REPO / name
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        found += [
            f for f in files if f.is_file() and not {"__pycache__", ".terraform"} & set(f.parts)
        ]
    return found


def variables_in(paths: list[Path], root: Path = REPO) -> dict[str, list[str]]:
    """Each PIVFLEET_ name in `paths`, with the files (under `root`) that mention it."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for name in set(ENV_NAME.findall(path.read_text(errors="ignore"))):
            found.setdefault(name, []).append(str(path.relative_to(root)))
    return found


def documented_variables(page: Path) -> set[str]:
    rows = [line for line in page.read_text().splitlines() if line.startswith("|")]
    return set(ENV_NAME.findall("\n".join(rows)))


def undocumented(found: dict[str, list[str]], documented: set[str]) -> dict[str, list[str]]:
    return {name: files for name, files in sorted(found.items()) if name not in documented}


def test_every_variable_the_code_reads_is_in_configuration_md() -> None:
    found = variables_in(product_files())
    assert "PIVFLEET_NAME_PREFIX" in found and "PIVFLEET_CHECKOV" in found  # the scan sees
    missing = undocumented(found, documented_variables(DOCS / "configuration.md"))
    assert not missing, f"docs/configuration.md has no row for (read in): {missing}"


def test_configuration_md_lists_no_variable_nothing_reads() -> None:
    anywhere = variables_in([*product_files(), *sorted((REPO / "tests").rglob("*.py"))])
    stale = documented_variables(DOCS / "configuration.md") - set(anywhere)
    assert not stale, f"docs/configuration.md lists variables nothing reads: {stale}"


def test_the_variable_check_reports_a_new_variable(tmp_path: Path) -> None:
    """The checker itself: a variable a new module reads and no table lists is named."""
    module = tmp_path / "new.py"
    module.write_text('os.environ.get("PIVFLEET_NEW_SETTING", "PIVFLEET_")\n')
    found = variables_in([module], root=tmp_path)
    missing = undocumented(found, documented_variables(DOCS / "configuration.md"))
    assert missing == {"PIVFLEET_NEW_SETTING": ["new.py"]}


PLUGIN_EXAMPLE = REPO / "examples" / "python_plugin" / "pivfleet_single_pass.py"


def plugin_example() -> Any:
    """The class of the plugin example docs/algorithms.md shows (the file, not a copy)."""
    source = PLUGIN_EXAMPLE.read_text()
    namespace: dict[str, Any] = {"__name__": "pivfleet_single_pass"}
    exec(compile(source, str(PLUGIN_EXAMPLE), "exec"), namespace)
    return namespace["SinglePass"]()


def test_the_algorithms_page_points_at_the_plugin_example_instead_of_a_copy() -> None:
    page = (DOCS / "algorithms.md").read_text()
    assert "../examples/python_plugin/pivfleet_single_pass.py" in page
    assert "class SinglePass" not in page


def shifted_pair() -> tuple[np.ndarray, np.ndarray]:
    """Particles moving 3.2 px right and 1.7 px up (v = -1.7 with v down)."""
    pair = make_pair((128, 160), uniform(u=3.2, v=-1.7))
    return pair.frame_a.astype(np.float64), pair.frame_b.astype(np.float64)


def test_the_plugin_example_returns_the_documented_grid_and_signs() -> None:
    frames, piv = shifted_pair(), PivSettings(windows=(32,), overlaps=(16,))
    vectors = plugin_example().process(*frames, piv, {"threshold": 1.0})
    shape = grid_shape(frames[0].shape, piv.windows[-1], piv.steps[-1])
    assert vectors.u.shape == vectors.v.shape == vectors.flags.shape == shape == (7, 9)
    assert np.nanmedian(vectors.u) == pytest.approx(3.2, abs=0.2)
    assert np.nanmedian(vectors.v) == pytest.approx(-1.7, abs=0.2)  # v down: this flow is up
    with pytest.raises(ValueError, match="unknown"):
        plugin_example().process(*frames, piv, {"treshold": 1.0})


def test_the_built_in_returns_v_down_as_the_contract_says() -> None:
    frames, piv = shifted_pair(), PivSettings(windows=(32, 16), overlaps=(16, 8))
    vectors = WindefAlgorithm().process(*frames, piv, {})
    assert vectors.u.shape == grid_shape(frames[0].shape, 16, 8)
    assert np.median(vectors.v) == pytest.approx(-1.7, abs=0.1)


def heading_anchors(page: Path) -> set[str]:
    """GitHub's anchors: lowercase, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def doc_pages() -> list[Path]:
    return [REPO / "README.md", REPO / "terraform" / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_reaches_a_file_and_heading(page: Path) -> None:
    broken = []
    for target, anchor in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in heading_anchors(path):
            broken.append(f"{target}#{anchor}")
    assert not broken, f"{page.relative_to(REPO)} links to nothing: {broken}"
