"""Leader election by client-go's rules (leader.py), on a fake clock and a fake Lease API:
a standby counts on its own clock from the last change it saw, never against the holder's
timestamps; a leader that cannot renew stops within its renew deadline, also while a renewal
hangs; of two candidates racing, one wins and the other gets a 409."""

import datetime
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from kubernetes import client as kubernetes_client

from ecs_facade.config import Config
from ecs_facade.kube import client as kube
from ecs_facade.leader import (
    Conflict,
    KubeLease,
    LeaderElector,
    LeadershipLost,
    Timings,
    micro_time,
)

WALL = datetime.datetime(2026, 12, 1, 10, 0, 0, tzinfo=datetime.UTC)
TIMINGS = Timings(lease_duration=15, renew_deadline=10.0, retry_period=2.0)


class FakeClock:
    """A machine's clocks: a monotonic one from an arbitrary origin, and a wall clock that may
    be ``skew`` seconds off; ``wait`` lets the time pass at once."""

    def __init__(self, origin: float = 1000.0, skew: float = 0.0) -> None:
        self.origin = origin
        self.t = origin
        self.skew = skew
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime.datetime:
        return WALL + datetime.timedelta(seconds=self.t - self.origin + self.skew)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.advance(max(seconds, 0.0))
        return event.is_set()


class FakeLease:
    """One Lease in an API server: resourceVersions, 409 on a stale or duplicate write; calls
    can fail, or hang until their timeout (``hang``), on the caller's clock."""

    def __init__(self) -> None:
        self.record: dict[str, Any] | None = None
        self.version = 0
        self.conflicts: list[str] = []  # who got a 409
        self.writes: list[tuple[str, str]] = []  # (holder written, its renewTime)
        self.timeouts: list[float] = []
        self.fail = False
        self.hang: FakeClock | None = None  # this caller's calls take their whole timeout
        self.before_write: Callable[[], None] | None = None

    def _call(self, timeout: float) -> None:
        self.timeouts.append(timeout)
        if self.hang is not None:
            self.hang.advance(timeout)
            raise TimeoutError("read timed out")
        if self.fail:
            raise ConnectionError("connection refused")

    def read(self, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
        self._call(timeout)
        if self.record is None:
            return None, None
        return dict(self.record), str(self.version)

    def _race(self) -> None:
        if self.before_write is not None:
            racing, self.before_write = self.before_write, None
            racing()  # another candidate's whole attempt lands first

    def _store(self, record: Mapping[str, Any]) -> str:
        self.record = dict(record)
        self.version += 1
        self.writes.append((str(record["holderIdentity"]), str(record["renewTime"])))
        return str(self.version)

    def create(self, record: Mapping[str, Any], timeout: float) -> str:
        self._call(timeout)
        self._race()
        if self.record is not None:
            self.conflicts.append(str(record["holderIdentity"]))
            raise Conflict("AlreadyExists")
        return self._store(record)

    def replace(self, record: Mapping[str, Any], resource_version: str, timeout: float) -> str:
        self._call(timeout)
        self._race()
        if resource_version and resource_version != str(self.version):  # none: unconditional, as the API server
            self.conflicts.append(str(record["holderIdentity"]))
            raise Conflict("the object has been modified")
        return self._store(record)


def holder_record(holder: str, renewed: datetime.datetime, duration: int = 15) -> dict[str, Any]:
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "acquireTime": micro_time(renewed),
        "renewTime": micro_time(renewed),
        "leaseTransitions": 2,
    }


def candidate(lease: FakeLease, name: str, clock: FakeClock, lost: list[str] | None = None) -> LeaderElector:
    return LeaderElector(lease, name, TIMINGS, clock, on_lost=(lost if lost is not None else []).append)


# -- a standby: its own clock, from the last change it saw ----------------------------------


@pytest.mark.parametrize("skew", [3600.0, -3600.0, 0.0], ids=["holder-ahead", "holder-behind", "in-step"])
def test_a_standby_takes_over_after_the_lease_duration_without_change_on_its_own_clock(skew: float) -> None:
    """The holder's renewTime is an hour in the future, an hour in the past, or now: the
    standby waits exactly leaseDurationSeconds from when it first saw the record, whatever
    the timestamps say (comparing them with its clock took over at once, or after an hour)."""
    lease = FakeLease()
    clock = FakeClock()
    lease.record = holder_record("b", clock.now() + datetime.timedelta(seconds=skew))
    lease.version = 7
    a = candidate(lease, "a", clock)

    assert not a.try_acquire_or_renew()  # first seen now
    clock.advance(14.5)
    assert not a.try_acquire_or_renew()
    clock.advance(0.5)  # 15 s without a change on a's clock
    assert a.try_acquire_or_renew()
    assert lease.record["holderIdentity"] == "a"
    assert lease.record["leaseTransitions"] == 3
    assert lease.record["acquireTime"] == lease.record["renewTime"] == micro_time(clock.now())
    assert a.leading()


def test_a_holder_that_keeps_renewing_is_never_taken_over_even_with_old_timestamps() -> None:
    """The holder's clock is an hour behind: every renewTime it writes looks expired to the
    standby's clock, yet the record changes every 2 s, so the standby waits as long as that goes on."""
    lease = FakeLease()
    b_clock, a_clock = FakeClock(skew=-3600.0), FakeClock(origin=5.0)
    b = candidate(lease, "b", b_clock)
    a = candidate(lease, "a", a_clock)
    assert b.try_acquire_or_renew()
    for _ in range(60):  # two minutes
        b_clock.advance(2.0)
        a_clock.advance(2.0)
        assert b.try_acquire_or_renew()
        assert not a.try_acquire_or_renew()
    assert lease.record is not None and lease.record["holderIdentity"] == "b"


def test_the_wait_restarts_at_each_change_seen() -> None:
    lease = FakeLease()
    clock = FakeClock()
    lease.record = holder_record("b", WALL)
    a = candidate(lease, "a", clock)
    assert not a.try_acquire_or_renew()
    clock.advance(10.0)
    lease.record = {**lease.record, "renewTime": micro_time(WALL + datetime.timedelta(seconds=1))}
    lease.version += 1
    assert not a.try_acquire_or_renew()  # a change: counted from now
    clock.advance(14.0)
    assert not a.try_acquire_or_renew()
    clock.advance(1.0)
    assert a.try_acquire_or_renew()


def test_the_holders_lease_duration_is_the_one_waited_for() -> None:
    lease = FakeLease()
    clock = FakeClock()
    lease.record = holder_record("b", WALL, duration=30)
    a = candidate(lease, "a", clock)
    assert not a.try_acquire_or_renew()
    clock.advance(29.0)
    assert not a.try_acquire_or_renew()
    clock.advance(1.0)
    assert a.try_acquire_or_renew()


def test_no_lease_is_created_and_a_released_one_taken_at_once() -> None:
    lease = FakeLease()
    a_clock, b_clock = FakeClock(), FakeClock()
    a, b = candidate(lease, "a", a_clock), candidate(lease, "b", b_clock)
    assert a.try_acquire_or_renew()
    assert lease.record is not None and lease.record["leaseTransitions"] == 0
    assert not b.try_acquire_or_renew()
    a.release()
    assert lease.record["holderIdentity"] == "" and lease.record["leaseDurationSeconds"] == 1
    assert b.try_acquire_or_renew()  # no holder: no wait
    assert lease.record["holderIdentity"] == "b" and lease.record["leaseTransitions"] == 1


def test_renewing_keeps_the_acquire_time_and_the_transitions() -> None:
    lease = FakeLease()
    clock = FakeClock()
    a = candidate(lease, "a", clock)
    assert a.try_acquire_or_renew()
    acquired = lease.record["acquireTime"] if lease.record else None
    clock.advance(2.0)
    assert a.try_acquire_or_renew()
    assert lease.record is not None
    assert lease.record["acquireTime"] == acquired
    assert lease.record["renewTime"] == micro_time(clock.now())
    assert lease.record["leaseTransitions"] == 0


# -- two candidates at once ----------------------------------------------------------------


@pytest.mark.parametrize("existing", [False, True], ids=["no-lease", "expired-lease"])
def test_two_candidates_racing_one_wins_and_the_other_gets_a_conflict(existing: bool) -> None:
    lease = FakeLease()
    a_clock, b_clock = FakeClock(), FakeClock()
    a, b = candidate(lease, "a", a_clock), candidate(lease, "b", b_clock)
    if existing:
        lease.record = holder_record("gone", WALL)
        assert not a.try_acquire_or_renew() and not b.try_acquire_or_renew()
        a_clock.advance(15.0)
        b_clock.advance(15.0)
    won: list[bool] = []
    lease.before_write = lambda: won.append(b.try_acquire_or_renew())  # b's attempt lands between a's read and write
    a_won = a.try_acquire_or_renew()
    assert won == [True] and not a_won
    assert lease.conflicts == ["a"]  # a's write carried the version it read: 409
    assert lease.record is not None and lease.record["holderIdentity"] == "b"
    assert b.leading() and not a.leading()


def test_the_kubernetes_lease_sends_the_version_read_and_turns_409_into_a_conflict() -> None:
    from kubernetes.client.exceptions import ApiException

    sent: list[dict[str, Any]] = []

    class Api:
        def replace_namespaced_lease(self, name: str, namespace: str, body: Any, _request_timeout: float) -> Any:
            sent.append({"body": body, "timeout": _request_timeout})
            raise ApiException(status=409, reason="Conflict")

    lease = KubeLease(Api(), "ecs-facade", "system")
    with pytest.raises(Conflict):
        lease.replace({"holderIdentity": "a"}, "42", timeout=3.5)
    assert sent[0]["body"]["metadata"]["resourceVersion"] == "42"
    assert sent[0]["timeout"] == 3.5
    with pytest.raises(TimeoutError):  # no time left: no call
        lease.replace({"holderIdentity": "a"}, "42", timeout=0.0)
    assert len(sent) == 1


# -- a leader that cannot renew ------------------------------------------------------------


def leader(lease: FakeLease, clock: FakeClock, lost: list[str]) -> LeaderElector:
    a = candidate(lease, "a", clock, lost)
    assert a.try_acquire_or_renew()
    return a


def test_a_leader_whose_renewals_fail_stops_within_the_renew_deadline() -> None:
    lease, clock = FakeLease(), FakeClock()
    lost: list[str] = []
    a = leader(lease, clock, lost)
    clock.advance(2.0)
    assert a.try_acquire_or_renew()
    last_sent = clock.monotonic()
    lease.fail = True
    a.keep_leading(threading.Event())  # returns when leadership is lost
    assert len(lost) == 1
    assert clock.monotonic() - last_sent <= TIMINGS.renew_deadline
    assert clock.monotonic() - last_sent < TIMINGS.lease_duration  # before a standby may start
    with pytest.raises(LeadershipLost):
        a.check()
    lease.fail = False
    assert not a.try_acquire_or_renew()  # lost for good


def test_a_leader_whose_renewal_hangs_stops_at_the_deadline_each_call_bounded_by_what_is_left() -> None:
    lease, clock = FakeLease(), FakeClock()
    lost: list[str] = []
    a = leader(lease, clock, lost)
    renewed = clock.monotonic()
    lease.timeouts.clear()
    lease.hang = clock
    a.keep_leading(threading.Event())
    assert lost
    assert clock.monotonic() <= renewed + TIMINGS.renew_deadline + 1e-9
    assert lease.timeouts and all(0 < t <= TIMINGS.renew_deadline for t in lease.timeouts)
    # each call's timeout ended at the deadline at the latest
    assert sum(lease.timeouts) + TIMINGS.retry_period <= TIMINGS.renew_deadline + 1e-9


def test_the_watchdog_ends_leadership_while_a_renewal_call_never_returns() -> None:
    """A call that ignores its timeout: the renewal thread is stuck in it, the watchdog ends
    leadership at the deadline, and the late answer does not bring it back."""
    lease, clock = FakeLease(), FakeClock()
    lost: list[str] = []
    a = leader(lease, clock, lost)
    deadline = a.leading_until()
    entered, answer = threading.Event(), threading.Event()
    real_replace = lease.replace

    def stuck(record: Mapping[str, Any], resource_version: str, timeout: float) -> str:
        entered.set()
        answer.wait(10)
        return real_replace(record, resource_version, timeout)

    lease.replace = stuck  # type: ignore[method-assign]
    renewing = threading.Thread(target=a.try_acquire_or_renew)
    renewing.start()
    assert entered.wait(5)
    a.watch(threading.Event())
    assert lost == ["no renewal within the renew deadline (watchdog)"]
    assert clock.monotonic() == deadline
    answer.set()
    renewing.join(5)
    assert not a.leading()
    with pytest.raises(LeadershipLost):
        a.check()


def test_a_renewal_answered_after_the_deadline_does_not_extend_it() -> None:
    lease, clock = FakeLease(), FakeClock()
    lost: list[str] = []
    a = leader(lease, clock, lost)
    real_replace = lease.replace

    def slow(record: Mapping[str, Any], resource_version: str, timeout: float) -> str:
        clock.advance(TIMINGS.renew_deadline + 5)  # a frozen process: the answer comes late
        return real_replace(record, resource_version, timeout)

    lease.replace = slow  # type: ignore[method-assign]
    clock.advance(2.0)
    assert not a.try_acquire_or_renew()
    assert lost and not a.leading()


def test_a_leader_that_sees_another_holder_stops_at_once() -> None:
    lease, clock = FakeLease(), FakeClock()
    lost: list[str] = []
    a = leader(lease, clock, lost)
    lease.record = holder_record("b", WALL)  # b took it (a's lease was deleted and recreated, ...)
    lease.version += 1
    a.keep_leading(threading.Event())
    assert lost == ["the Lease is held by b"]
    assert clock.monotonic() - 1000.0 == TIMINGS.retry_period  # at the first renewal


def test_the_write_fence_passes_while_leading_and_stops_the_leader_after_its_deadline() -> None:
    lease, clock = FakeLease(), FakeClock()
    lost: list[str] = []
    a = leader(lease, clock, lost)
    clock.advance(9.5)
    a.check()
    clock.advance(0.5)  # a frozen process resumes: no renewal for the whole deadline
    with pytest.raises(LeadershipLost):
        a.check()
    with pytest.raises(LeadershipLost):
        a.check()
    assert lost == ["the renew deadline passed"]  # once


def test_a_released_lease_refuses_writes_without_calling_on_lost() -> None:
    lease, clock = FakeLease(), FakeClock()
    lost: list[str] = []
    a = leader(lease, clock, lost)
    a.release()
    with pytest.raises(LeadershipLost):
        a.check()
    assert lost == []


def test_every_write_of_the_operator_asks_the_fence_and_reads_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []

    def call_api(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> object:
        sent.append(method)
        return object()

    monkeypatch.setattr(kubernetes_client.ApiClient, "call_api", call_api)
    api = kube._CountingApiClient(kubernetes_client.Configuration())
    refused: list[str] = []

    def fence() -> None:
        refused.append("asked")
        raise LeadershipLost("not the leader")

    kube.set_write_fence(fence)
    try:
        api.call_api("GET", "/api/v1/pods")
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            with pytest.raises(LeadershipLost):
                api.call_api(method, "/api/v1/namespaces/a/pods")
    finally:
        kube.set_write_fence(None)
    assert sent == ["GET"]
    assert len(refused) == 4


# -- the settings --------------------------------------------------------------------------


def test_the_timings_default_to_client_gos() -> None:
    config = Config.from_env({})
    assert (config.lease_duration_seconds, config.lease_renew_deadline_seconds, config.lease_retry_period_seconds) == (
        15,
        10.0,
        2.0,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ECS_FACADE_LEASE_RENEW_DEADLINE_SECONDS": "15"}, "ECS_FACADE_LEASE_RENEW_DEADLINE_SECONDS='15': expected"),
        ({"ECS_FACADE_LEASE_DURATION_SECONDS": "8"}, "ECS_FACADE_LEASE_RENEW_DEADLINE_SECONDS='10.0': expected fewer"),
        ({"ECS_FACADE_LEASE_RETRY_PERIOD_SECONDS": "10"}, "ECS_FACADE_LEASE_RETRY_PERIOD_SECONDS='10': expected fewer"),
        ({"ECS_FACADE_LEASE_DURATION_SECONDS": "1.5"}, "ECS_FACADE_LEASE_DURATION_SECONDS='1.5': expected a whole"),
        ({"ECS_FACADE_LEASE_RETRY_PERIOD_SECONDS": "0"}, "ECS_FACADE_LEASE_RETRY_PERIOD_SECONDS='0': expected"),
    ],
)
def test_timings_that_could_make_two_leaders_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        Config.from_env(env)


def test_short_timings_for_tests_are_accepted() -> None:
    env = {
        "ECS_FACADE_LEASE_DURATION_SECONDS": "4",
        "ECS_FACADE_LEASE_RENEW_DEADLINE_SECONDS": "2.5",
        "ECS_FACADE_LEASE_RETRY_PERIOD_SECONDS": "0.5",
    }
    config = Config.from_env(env)
    assert (config.lease_duration_seconds, config.lease_renew_deadline_seconds) == (4, 2.5)
