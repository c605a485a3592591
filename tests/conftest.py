"""Shared fixtures: OpenPIV's sample pairs, read as the engine reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pivfleet.cli.samples import SAMPLE_PAIRS, copy_samples


@pytest.fixture(scope="session")
def sample_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OpenPIV's sample pairs test1, test2, test4, test5 as NAME_a/NAME_b files."""
    folder = tmp_path_factory.mktemp("samples")
    copy_samples(folder)
    return folder


@pytest.fixture(scope="session")
def sample_names() -> list[str]:
    return list(SAMPLE_PAIRS)
