"""Leader election with a coordination.k8s.io Lease, by client-go's rules.

Several operator replicas may run (the Helm chart's replicaCount); one holds the Lease and
runs kopf, the others wait as standbys. kopf's own peering would pause every replica of
equal priority, which is why this is not kopf peering.

The rules (client-go's ``tools/leaderelection``), and why each one:

- **No clock is compared with another machine's.** A candidate notes, on its own monotonic
  clock, when it last saw the Lease record change (holder, renewTime, leaseTransitions, ...);
  it may take the Lease over only when the record has not changed for the record's
  ``leaseDurationSeconds`` *on that clock*. The holder's ``renewTime`` is for people; a
  standby whose clock runs ahead of the holder's, or behind it, waits just as long.
- **The leader stops before a standby can start.** It renews every ``retry_period``; when it
  has not renewed within ``renew_deadline`` (< the lease duration), counted from the moment
  its last successful renewal was *sent* on its monotonic clock, it stops leading. Every Lease
  call has a timeout no longer than what is left of that deadline, and a watchdog thread
  (``watch``) does not depend on the renewal returning at all: a renewal that hangs still
  ends leadership on time. A standby counts from when it *saw* that renewal, which is later,
  so it waits at least ``lease_duration - renew_deadline`` past the leader's stop.
- **Stopping leading means the process stops writing at once** (``on_lost``; ``ecs-facade
  run`` exits the process, see cli.py): the operator's writes ask ``check`` first
  (kube/client.py's write fence) and are refused once the deadline has passed, so a process
  that was frozen (SIGSTOP, a paused VM) and resumes after a standby took over does not send
  one more write from its worker threads.
- **Optimistic concurrency**: every update carries the resourceVersion read; of two candidates
  that try at once, one gets 409 Conflict and stays a standby.

Why not the kubernetes client's ``kubernetes.leaderelection`` (evaluated at 37.0): it has the
observed-time rule and a Lease lock, but (1) it measures the renew deadline and the observed
time with ``time.time()``, the wall clock, which steps; (2) its Lease calls have no request
timeout, so a renewal that hangs never reaches its deadline check — the very gap this module
closes; (3) ``acquire`` loops forever with ``time.sleep`` (a standby cannot be stopped) and
configuration errors ``sys.exit`` the process; (4) it keeps no leaseTransitions and does not
release the Lease on shutdown; (5) its LeaseLock always uses the default global client (not
the operator's credentials and pool) and lets a connection error (not an ApiException)
escape the renewal loop. Fixing those would replace most of it, so the rules are here, with a
``LeaseApi`` and a ``Clock`` that unit tests replace.
"""

import datetime
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# the fields of the Lease record; a change of any of them is a sign of life of its holder
RECORD_FIELDS = ("holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions")


# a leader's Lease call ends this long before its renew deadline (or a tenth of what is left)
CALL_MARGIN = 0.1


class Conflict(Exception):
    """Another candidate wrote the Lease first (409): this one did not get it."""


class LeadershipLost(Exception):
    """A write was refused: this process no longer holds the Lease (or never did)."""


class LeaseApi(Protocol):
    """The Lease's API calls, each bounded by ``timeout`` seconds."""

    def read(self, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
        """(the record, its resourceVersion), or (None, None) when there is no Lease."""

    def create(self, record: Mapping[str, Any], timeout: float) -> str:
        """The new resourceVersion; Conflict when it exists already."""

    def replace(self, record: Mapping[str, Any], resource_version: str, timeout: float) -> str:
        """The new resourceVersion; Conflict when the Lease changed since ``resource_version``."""


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime.datetime: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` passed; True when it was set."""


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(seconds, 0.0))


@dataclass(frozen=True)
class Timings:
    """client-go's defaults; config.py checks renew_deadline < lease_duration and
    retry_period < renew_deadline."""

    lease_duration: int = 15
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def micro_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_of(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """The record's fields of a Lease spec, nothing else (what is compared to see a change)."""
    spec = spec or {}
    return {field: spec.get(field) for field in RECORD_FIELDS}


class LeaderElector:
    """One candidate. ``try_acquire_or_renew`` is one attempt; ``wait_for_leadership`` is the
    standby's loop, ``keep_leading`` the leader's, ``watch`` its watchdog and ``check`` the
    write fence. Leadership lost is lost for good: the process is to exit (``on_lost``)."""

    def __init__(
        self,
        lease: LeaseApi,
        identity: str,
        timings: Timings | None = None,
        clock: Clock | None = None,
        on_lost: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.lease = lease
        self.identity = identity
        self.timings = timings or Timings()
        self.clock: Clock = clock or SystemClock()
        self.on_lost = on_lost
        self.observed: dict[str, Any] | None = None  # the record as last seen
        self.observed_at = float("-inf")  # when it was seen to change, on this clock
        self.version: str | None = None  # its resourceVersion
        self.renewed_at: float | None = None  # when the last successful write was sent
        self.lost = False
        self._lock = threading.Lock()

    # -- the leader's deadline ---------------------------------------------------------

    def leading_until(self) -> float:
        """The monotonic time up to which this candidate may act as the leader."""
        if self.lost or self.renewed_at is None:
            return float("-inf")
        return self.renewed_at + self.timings.renew_deadline

    def leading(self) -> bool:
        return self.clock.monotonic() < self.leading_until()

    def check(self) -> None:
        """The write fence: raises LeadershipLost unless this candidate leads now; a leader
        past its deadline stops leading here (``on_lost``) rather than write."""
        if self.leading():
            return
        if self.renewed_at is not None:
            self._lose("the renew deadline passed")
        raise LeadershipLost(f"{self.identity} does not hold the Lease")

    def _lose(self, reason: str, notify: bool = True) -> None:
        with self._lock:
            if self.lost:
                return
            self.lost = True
        if notify:
            logger.error("leader election: %s stopped leading: %s", self.identity, reason)
            self.on_lost(reason)

    # -- one attempt -------------------------------------------------------------------

    def _timeout(self) -> float:
        """Each Lease call's bound: a leader's ends a little before its deadline (the rest is
        for noticing), a standby's within a renew deadline."""
        if self.renewed_at is None:
            return self.timings.renew_deadline
        left = self.leading_until() - self.clock.monotonic()
        return left - min(CALL_MARGIN, left / 10)

    def _observe(self, record: dict[str, Any], version: str | None) -> None:
        if record != self.observed:
            self.observed = record
            self.observed_at = self.clock.monotonic()
        self.version = version

    def _held_by_other(self) -> bool:
        """The observed record names a live holder other than this candidate: one whose record
        changed less than its lease duration ago on this candidate's clock."""
        record = self.observed or {}
        holder = record.get("holderIdentity") or ""
        if not holder or holder == self.identity:
            return False
        duration = int(record.get("leaseDurationSeconds") or 0) or self.timings.lease_duration
        return self.clock.monotonic() < self.observed_at + duration

    def _next_record(self, wall: datetime.datetime) -> dict[str, Any]:
        previous = self.observed or {}
        stamp = micro_time(wall)
        ours = previous.get("holderIdentity") == self.identity
        transitions = int(previous.get("leaseTransitions") or 0)
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.timings.lease_duration,
            "acquireTime": (previous.get("acquireTime") or stamp) if ours else stamp,
            "renewTime": stamp,
            "leaseTransitions": transitions if ours or self.observed is None else transitions + 1,
        }

    def _wrote(self, record: dict[str, Any], version: str, started: float) -> bool:
        """After a successful write sent at ``started``: leading until started + deadline,
        unless that is past already (a write that took longer than the deadline)."""
        self.observed, self.observed_at, self.version = record, self.clock.monotonic(), version
        if self.clock.monotonic() >= started + self.timings.renew_deadline:
            if self.renewed_at is not None:
                self._lose("a renewal came back after the renew deadline")
            return False
        self.renewed_at = started
        return True

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True while this candidate holds the Lease. A leader's failure is
        final only once its deadline passed (``keep_leading`` decides)."""
        if self.lost:
            return False
        started = self.clock.monotonic()
        if self.renewed_at is not None and started >= self.leading_until():
            self._lose("the renew deadline passed")
            return False
        wall = self.clock.now()
        try:
            if self.renewed_at is not None and self.version is not None:  # the leader's fast path
                record = self._next_record(wall)
                try:
                    return self._wrote(record, self.lease.replace(record, self.version, self._timeout()), started)
                except Conflict:
                    pass  # someone else wrote it: read it
            found, version = self.lease.read(self._timeout())
            if found is None:
                record = self._next_record(wall)
                return self._wrote(record, self.lease.create(record, self._timeout()), started)
            self._observe(record_of(found), version)
            if self._held_by_other():
                return False
            record = self._next_record(wall)
            return self._wrote(record, self.lease.replace(record, version or "", self._timeout()), started)
        except Conflict:
            return False  # another candidate won this round
        except Exception as error:  # an API error or a timeout: try again later
            logger.warning("leader election: %s: %s", self.identity, error)
            return False

    # -- loops -------------------------------------------------------------------------

    def wait_for_leadership(self, stop: threading.Event) -> bool:
        """The standby's loop: try every retry period until this candidate holds the Lease
        (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            if self.try_acquire_or_renew():
                logger.info("leader election: %s leads (%s)", self.identity, self.observed)
                return True
            if self.clock.wait(stop, self.timings.retry_period):
                break
        return False

    def keep_leading(self, stop: threading.Event) -> None:
        """The leader's loop: renew every retry period, retrying failures until the renew
        deadline; returns when ``stop`` is set or leadership is lost (``on_lost`` called)."""
        while not self.clock.wait(stop, self.timings.retry_period):
            while not self.try_acquire_or_renew():
                if self.lost:
                    return
                holder = (self.observed or {}).get("holderIdentity")
                if holder and holder != self.identity:
                    self._lose(f"the Lease is held by {holder}")
                    return
                remaining = self.leading_until() - self.clock.monotonic()
                if remaining <= 0:
                    self._lose("no renewal within the renew deadline")
                    return
                if self.clock.wait(stop, min(self.timings.retry_period, remaining)):
                    return

    def watch(self, stop: threading.Event) -> None:
        """The watchdog: ends leadership at its deadline even while a renewal hangs."""
        while not self.lost:
            remaining = self.leading_until() - self.clock.monotonic()
            if remaining <= 0:
                self._lose("no renewal within the renew deadline (watchdog)")
                return
            if self.clock.wait(stop, remaining):
                return

    def release(self) -> None:
        """At a clean shutdown, once nothing writes any more: give the Lease up (no holder,
        a one-second lease), so that a standby takes over at once."""
        if not self.leading() or self.version is None:
            return
        self._lose("released", notify=False)  # the write fence refuses from now on
        record = {**(self.observed or {}), "holderIdentity": "", "leaseDurationSeconds": 1}
        record["renewTime"] = micro_time(self.clock.now())
        try:
            self.lease.replace(record, self.version, self.timings.renew_deadline)
            logger.info("leader election: %s released the Lease", self.identity)
        except Exception as error:  # the standby then waits out the lease
            logger.warning("leader election: %s could not release the Lease: %s", self.identity, error)


def _stamp(value: Any) -> str | None:
    """A MicroTime as written back (the client reads it as a datetime)."""
    if isinstance(value, datetime.datetime):
        return micro_time(value if value.tzinfo else value.replace(tzinfo=datetime.UTC))
    return None if value is None else str(value)


class KubeLease:
    """``LeaseApi`` on a coordination.k8s.io/v1 Lease, with the client's per-request timeout."""

    def __init__(self, api: Any, name: str, namespace: str) -> None:
        self.api = api  # kubernetes.client.CoordinationV1Api
        self.name = name
        self.namespace = namespace

    def _body(self, record: Mapping[str, Any], resource_version: str | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if resource_version is not None:
            metadata["resourceVersion"] = resource_version  # optimistic: one writer wins
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": dict(record)}

    @staticmethod
    def _bounded(timeout: float) -> float:
        if timeout <= 0:
            raise TimeoutError("no time left for the Lease call")
        return timeout

    def read(self, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
        from kubernetes.client.exceptions import ApiException

        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self._bounded(timeout))
        except ApiException as error:
            if error.status == 404:
                return None, None
            raise
        spec = lease.spec
        record = {
            "holderIdentity": getattr(spec, "holder_identity", None),
            "leaseDurationSeconds": getattr(spec, "lease_duration_seconds", None),
            "acquireTime": _stamp(getattr(spec, "acquire_time", None)),
            "renewTime": _stamp(getattr(spec, "renew_time", None)),
            "leaseTransitions": getattr(spec, "lease_transitions", None),
        }
        return record, lease.metadata.resource_version

    def create(self, record: Mapping[str, Any], timeout: float) -> str:
        from kubernetes.client.exceptions import ApiException

        try:
            made = self.api.create_namespaced_lease(
                self.namespace, self._body(record, None), _request_timeout=self._bounded(timeout)
            )
        except ApiException as error:
            if error.status == 409:
                raise Conflict(error.reason) from error
            raise
        return str(made.metadata.resource_version)

    def replace(self, record: Mapping[str, Any], resource_version: str, timeout: float) -> str:
        from kubernetes.client.exceptions import ApiException

        try:
            made = self.api.replace_namespaced_lease(
                self.name, self.namespace, self._body(record, resource_version), _request_timeout=self._bounded(timeout)
            )
        except ApiException as error:
            if error.status in (404, 409):  # gone or changed: another candidate's turn
                raise Conflict(error.reason) from error
            raise
        return str(made.metadata.resource_version)
