"""How `ecs-facade run --leader-elect` wires the election (cli.py, _elect): once it leads,
every write asks the Lease's deadline and a continued process checks it; losing the Lease
exits the process with code 1 at once; a clean stop releases the Lease and lifts the fence."""

import argparse
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as kubernetes_client

from ecs_facade import cli
from ecs_facade.config import Config
from ecs_facade.kube import client as kube
from ecs_facade.leader import LeadershipLost
from tests.unit.test_leader import FakeLease


class Exited(Exception):
    pass


@pytest.fixture
def lease(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLease]:
    fake = FakeLease()
    monkeypatch.setattr("ecs_facade.leader.KubeLease", lambda api, name, namespace: fake)
    monkeypatch.setattr("ecs_facade.kube.client._api_client", lambda: kubernetes_client.ApiClient())
    monkeypatch.setenv("POD_NAME", "operator-0")
    before = signal.getsignal(signal.SIGCONT)
    yield fake
    signal.signal(signal.SIGCONT, before)
    kube.set_write_fence(None)


def args() -> argparse.Namespace:
    return argparse.Namespace(lease_name="ecs-facade", lease_namespace="system", liveness=None)


def test_a_leader_fences_writes_and_a_clean_stop_releases_the_lease(lease: FakeLease) -> None:
    leadership = cli._elect(args(), Config())
    assert lease.record is not None and lease.record["holderIdentity"].startswith("operator-0_")
    assert kube._Connection.fence == leadership.elector.check
    assert callable(signal.getsignal(signal.SIGCONT))
    leadership.stop()
    assert lease.record["holderIdentity"] == ""
    assert kube._Connection.fence is None
    assert not any(thread.is_alive() for thread in leadership.threads)


def test_losing_the_lease_exits_the_process_with_code_1(lease: FakeLease, monkeypatch: pytest.MonkeyPatch) -> None:
    codes: list[int] = []

    def exit_(code: int) -> Any:
        codes.append(code)
        raise Exited

    monkeypatch.setattr(os, "_exit", exit_)
    leadership = cli._elect(args(), Config())
    try:
        elector = leadership.elector
        elector.renewed_at -= Config().lease_renew_deadline_seconds  # as after a freeze
        handler = signal.getsignal(signal.SIGCONT)
        assert callable(handler)
        with pytest.raises(Exited):
            handler(signal.SIGCONT, None)  # the process is continued: it checks first
        assert codes == [1]
        with pytest.raises(LeadershipLost):
            kube._Connection.fence()  # type: ignore[misc]  # no write passes any more
    finally:
        leadership.halt.set()
