"""Shared fixtures: OpenPIV's sample pairs, read as the engine reads them."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pivfleet.algorithms import registry
from pivfleet.cli.samples import SAMPLE_PAIRS, copy_samples


@pytest.fixture(autouse=True)
def root_log_handlers() -> Iterator[None]:
    """Each test starts with the root logger's handlers as they were: `pivfleet run` (the
    CLI's `basicConfig`) binds one to the stderr of the test that called it first, which pytest
    closes after that test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def installed_algorithms_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the installed algorithms only: the specs `use_specs` registered
    for a test (a process serves one folder; tests reuse names) do not reach the next one."""
    monkeypatch.setattr(registry, "_specs", {})
    monkeypatch.setattr(registry, "_stored", [])  # a dispatcher's stored-spec reader
    registry.load_algorithm.cache_clear()


@pytest.fixture(scope="session")
def sample_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OpenPIV's sample pairs test1, test2, test4, test5 as NAME_a/NAME_b files."""
    folder = tmp_path_factory.mktemp("samples")
    copy_samples(folder)
    return folder


@pytest.fixture(scope="session")
def sample_names() -> list[str]:
    return list(SAMPLE_PAIRS)


@pytest.fixture
def one_pair(sample_input: Path, tmp_path: Path) -> Path:
    """A folder holding one good pair, `good_a.bmp`/`good_b.bmp` (OpenPIV's test1)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for letter in "ab":
        shutil.copy(sample_input / f"test1_{letter}.bmp", folder / f"good_{letter}.bmp")
    return folder
