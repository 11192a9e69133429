"""The operator's tuning knobs come from the environment and reach kopf's settings."""

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import Any, cast

import kopf
import pytest

from ecs_facade.config import Config
from ecs_facade.controllers import settings as operator_settings
from ecs_facade.controllers.state import of

configure = cast(Callable[..., None], operator_settings.configure)  # as kopf calls it
read_settings = cast(Callable[..., None], operator_settings.read_settings)


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ECS_FACADE_WORKERS",
        "ECS_FACADE_SERVICE_WORKERS",
        "ECS_FACADE_STATUS_BATCH_SECONDS",
        "ECS_FACADE_KOPF_IDLE_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    config = Config.from_env()
    assert (config.workers, config.service_workers) == (20, 60)
    assert (config.status_batch_seconds, config.kopf_idle_seconds) == (2.0, 0.5)


def test_the_budget_settings_are_gone() -> None:
    """Issue 27: every REPLICA service's budget comes with its workload; nothing delays it or
    leaves it out (docs/configuration.md, Removed settings)."""
    assert not any("budget" in name for name in Config.__dataclass_fields__)
    config = Config.from_env({"ECS_FACADE_DISRUPTION_BUDGETS": "draining"})  # not read any more
    assert config == Config()


def test_service_workers_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_FACADE_SERVICE_WORKERS", "8")
    assert Config.from_env().service_workers == 8


def test_kopf_gets_the_workers_and_the_idle_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_FACADE_WORKERS", "7")
    monkeypatch.setenv("ECS_FACADE_KOPF_IDLE_SECONDS", "5")
    memo = kopf.Memo()  # a new operator: its first startup handler reads them
    read_settings(memo=memo)
    settings: Any = kopf.OperatorSettings()
    configure(settings=settings, memo=memo)
    assert settings.execution.max_workers == 7
    assert settings.queueing.idle_timeout == 5.0


def test_the_settings_are_read_once_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = kopf.Memo()
    assert "state" not in memo  # nothing read before the start-up
    monkeypatch.setenv("ECS_FACADE_SERVICE_WORKERS", "8")
    read_settings(memo=memo)
    monkeypatch.setenv("ECS_FACADE_SERVICE_WORKERS", "9")  # too late: read at start-up only
    assert of(memo).config.service_workers == 8


def test_the_settings_ecs_facade_run_read_are_the_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_FACADE_SERVICE_WORKERS", "9")  # read before, by the CLI
    memo = kopf.Memo(config=Config(service_workers=8))
    read_settings(memo=memo)
    assert of(memo).config.service_workers == 8


def test_a_wrong_setting_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_FACADE_CLUSTER_SYNC_SECONDS", "sometimes")
    memo = kopf.Memo()
    with pytest.raises(kopf.PermanentError, match="ECS_FACADE_CLUSTER_SYNC_SECONDS='sometimes': expected a number"):
        read_settings(memo=memo)
    assert "state" not in memo


def test_replace_changes_a_setting_of_the_running_operator() -> None:
    memo = kopf.Memo()
    read_settings(memo=memo)
    handlers = copy.copy(memo)  # kopf hands each object's handlers a shallow copy of its memo
    before = of(memo).config
    of(memo).config = changed = dataclasses.replace(before, cluster_sync_seconds=1.0)
    assert of(handlers).config is changed and changed.cluster_sync_seconds == 1.0
    assert changed.service_workers == before.service_workers


def test_settings_from_a_given_environment() -> None:
    assert Config.from_env({"ECS_FACADE_REGION": "eu-west-1"}).region == "eu-west-1"
    assert Config.from_env({}).region == "us-east-1"


def test_status_min_interval_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECS_FACADE_STATUS_MIN_INTERVAL_SECONDS", raising=False)
    assert Config.from_env().status_min_interval_seconds == 10.0
    monkeypatch.setenv("ECS_FACADE_STATUS_MIN_INTERVAL_SECONDS", "0.5")
    assert Config.from_env().status_min_interval_seconds == 0.5


def test_progress_write_rate_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECS_FACADE_STATUS_PROGRESS_WRITES_PER_SECOND", raising=False)
    assert Config.from_env().status_progress_writes_per_second == 5.0
    monkeypatch.setenv("ECS_FACADE_STATUS_PROGRESS_WRITES_PER_SECOND", "0")
    assert Config.from_env().status_progress_writes_per_second == 0.0


def test_container_restart_rules_are_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECS_FACADE_CONTAINER_RESTART_RULES", raising=False)
    assert Config.from_env().translation.container_restart_rules is True
    monkeypatch.setenv("ECS_FACADE_CONTAINER_RESTART_RULES", "false")
    assert Config.from_env().translation.container_restart_rules is False


def test_a_task_is_healthy_after_ten_seconds_ready_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECS_FACADE_STEADY_STATE_SECONDS", raising=False)
    assert Config.from_env().steady_state_seconds == 10.0
    monkeypatch.setenv("ECS_FACADE_STEADY_STATE_SECONDS", "30")
    assert Config.from_env().steady_state_seconds == 30.0
    monkeypatch.setenv("ECS_FACADE_STEADY_STATE_SECONDS", "-1")
    with pytest.raises(ValueError, match="ECS_FACADE_STEADY_STATE_SECONDS='-1': expected a number of seconds"):
        Config.from_env()


def test_load_balanced_tasks_drain_ten_seconds_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECS_FACADE_DEREGISTRATION_DELAY_SECONDS", raising=False)
    assert Config.from_env().deregistration_delay_seconds == 10
    for value, seconds in (("0", 0), ("30", 30), ("3600", 3600)):
        monkeypatch.setenv("ECS_FACADE_DEREGISTRATION_DELAY_SECONDS", value)
        assert Config.from_env().deregistration_delay_seconds == seconds
    for wrong in ("-1", "2.5", "3601", "soon", ""):
        monkeypatch.setenv("ECS_FACADE_DEREGISTRATION_DELAY_SECONDS", wrong)
        expected = f"ECS_FACADE_DEREGISTRATION_DELAY_SECONDS='{wrong}': expected a whole number of seconds from 0 to"
        with pytest.raises(ValueError, match=expected + " 3600"):
            Config.from_env()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ECS_FACADE_WORKERS", "0", "expected a whole number, 1 or more"),
        ("ECS_FACADE_SERVICE_WORKERS", "many", "expected a whole number, 1 or more"),
        ("ECS_FACADE_WATCH_TIMEOUT_SECONDS", "-5", "expected a whole number, 1 or more"),
        ("ECS_FACADE_STOPPED_TASK_RETENTION_SECONDS", "1h", "expected a whole number, 0 or more"),
        ("ECS_FACADE_ALLOW_HOST_PATH", "ture", "expected true or false"),
        ("ECS_FACADE_POD_LEVEL_RESOURCES", "enabled", "expected true or false"),
        ("ECS_FACADE_CLUSTER_SYNC_SECONDS", "0", "expected a number of seconds, more than 0"),
        ("ECS_FACADE_STATUS_BATCH_SECONDS", "2s", "expected a number of seconds, 0 or more"),
        ("ECS_FACADE_KOPF_IDLE_SECONDS", "nan", "expected a number of seconds, 0 or more"),
        ("ECS_FACADE_STATUS_PROGRESS_WRITES_PER_SECOND", "-1", "expected a number of writes per second"),
    ],
)
def test_a_wrong_setting_is_named_with_what_it_expects(name: str, value: str, expected: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}='{re.escape(value)}': {expected}"):
        Config.from_env({name: value})


@pytest.mark.parametrize(
    ("value", "expected"), [("TRUE", True), ("on", True), ("0", False), ("off", False), ("", False)]
)
def test_flags_take_the_usual_spellings(value: str, expected: bool) -> None:
    assert Config.from_env({"ECS_FACADE_ALLOW_HOST_PATH": value}).allow_host_path is expected
