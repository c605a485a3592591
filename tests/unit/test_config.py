"""Cloud settings from the environment: defaults, overrides, and a clear stop on bad values."""

from __future__ import annotations

import pytest

from pivfleet.cloud.config import CloudConfig
from pivfleet.core.cost import WorkerSize
from pivfleet.core.errors import SettingsError


def test_defaults_follow_the_name_prefix() -> None:
    config = CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": "lab"})
    assert (config.input_bucket, config.output_bucket) == ("lab-input", "lab-output")
    assert config.algorithm == "windef" and config.worker_processes >= 1


def test_explicit_values_win() -> None:
    env = {
        "PIVFLEET_OUTPUT_BUCKET": "out",
        "PIVFLEET_WORKER_PROCESSES": "3",
        "PIVFLEET_DRAIN_SECONDS": "7.5",
    }
    config = CloudConfig.from_env(env)
    assert (config.output_bucket, config.worker_processes, config.drain_seconds) == ("out", 3, 7.5)


def test_a_worker_process_is_priced_as_its_share_of_the_task() -> None:
    default = CloudConfig.from_env({"PIVFLEET_WORKER_PROCESSES": "2"})
    assert default.worker_size == WorkerSize(vcpu=1, memory_gb=4)
    env = {
        "PIVFLEET_WORKER_PROCESSES": "2",
        "PIVFLEET_WORKER_VCPU": "4",
        "PIVFLEET_WORKER_MEMORY_GB": "30",
    }
    assert CloudConfig.from_env(env).worker_size == WorkerSize(vcpu=2, memory_gb=15)
    with pytest.raises(SettingsError, match="above 0"):
        CloudConfig.from_env({"PIVFLEET_WORKER_VCPU": "0"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PIVFLEET_WORKER_PROCESSES", "many"),
        ("PIVFLEET_WORKER_MEMORY_GB", "lots"),
        ("PIVFLEET_DRAIN_SECONDS", "-1"),
        ("PIVFLEET_HEARTBEAT_SECONDS", "x"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        CloudConfig.from_env({name: value})


@pytest.mark.parametrize("name", ["PIVFLEET_THREADS", "PIVFLEET_WORKER_PROCESSES"])
@pytest.mark.parametrize("value", ["0", "2.5"])
def test_a_count_that_is_not_a_whole_number_from_one_is_refused_not_clamped(
    name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=rf"^{name}='{value}': use a whole number, 1 or more"):
        CloudConfig.from_env({name: value})
    assert CloudConfig.from_env({"PIVFLEET_THREADS": "3"}).threads == 3


def test_the_worker_stops_at_start_naming_the_bad_variable(monkeypatch, capsys) -> None:
    from worker.__main__ import main

    monkeypatch.setenv("PIVFLEET_WORKER_PROCESSES", "lots")
    assert main() == 2
    assert "PIVFLEET_WORKER_PROCESSES" in capsys.readouterr().out
