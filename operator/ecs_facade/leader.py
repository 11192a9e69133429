"""Leader election with a coordination.k8s.io Lease, as Kubernetes' own controllers do it.

Several operator replicas may run (the Helm chart's replicaCount); one holds the Lease and
runs kopf, the others wait as standbys and take over when the holder stops renewing it for
``leaseDurationSeconds``. kopf's own peering would pause every replica of equal priority,
which is why this is not kopf peering. ``decide`` is the pure rule; ``LeaderElector`` does
the API calls.
"""

import datetime
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubernetes import client
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

Decision = Literal["acquire", "renew", "wait"]


def _parse(stamp: Any) -> datetime.datetime | None:
    if isinstance(stamp, datetime.datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)
    if not stamp:
        return None
    return datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def decide(spec: Mapping[str, Any] | None, identity: str, now: datetime.datetime) -> Decision:
    """What a candidate does with the Lease as it is now."""
    if spec is None:
        return "acquire"
    holder = spec.get("holderIdentity") or ""
    if holder == identity:
        return "renew"
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    duration = int(spec.get("leaseDurationSeconds") or 0)
    if not holder or renewed is None or now >= renewed + datetime.timedelta(seconds=duration):
        return "acquire"  # released, or its holder stopped renewing
    return "wait"


def _micro_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_spec(
    previous: Mapping[str, Any] | None, identity: str, duration: int, now: datetime.datetime
) -> dict[str, Any]:
    """The Lease spec after acquiring or renewing it."""
    previous = previous or {}
    held = previous.get("holderIdentity") == identity
    transitions = int(previous.get("leaseTransitions") or 0) + (0 if held or not previous else 1)
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": duration,
        "acquireTime": previous.get("acquireTime") if held else _micro_time(now),
        "renewTime": _micro_time(now),
        "leaseTransitions": transitions,
    }


@dataclass
class LeaderElector:
    api: client.CoordinationV1Api
    name: str
    namespace: str
    identity: str
    duration: int = 15
    retry: float = 2.0

    def _read(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as error:
            if error.status == 404:
                return None, None
            raise
        raw = client.ApiClient().sanitize_for_serialization(lease.spec) or {}  # type: ignore[no-untyped-call]
        return dict(raw), lease.metadata.resource_version if lease.metadata else None

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True while this candidate holds the Lease. Conflicts mean another won."""
        now = datetime.datetime.now(datetime.UTC)
        try:
            spec, version = self._read()
            decision = decide(spec, self.identity, now)
            if decision == "wait":
                return False
            metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
            body: Any = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": metadata,
                "spec": lease_spec(spec, self.identity, self.duration, now),
            }
            if version is None:
                self.api.create_namespaced_lease(self.namespace, body)
            else:
                metadata["resourceVersion"] = version  # optimistic: one writer wins
                self.api.replace_namespaced_lease(self.name, self.namespace, body)
            if decision == "acquire":
                logger.info("leader election: %s acquired lease %s/%s", self.identity, self.namespace, self.name)
            return True
        except ApiException as error:
            if error.status in (409, 422):
                return False
            logger.warning("leader election: lease %s/%s: %s", self.namespace, self.name, error.reason)
            return False

    def wait_for_leadership(self, stop: threading.Event) -> bool:
        while not stop.is_set():
            if self.try_acquire_or_renew():
                return True
            stop.wait(self.retry)
        return False

    def keep_renewing(self, stop: threading.Event, lost: threading.Event) -> None:
        """Renew until ``stop``; when renewals fail for a whole lease duration, set ``lost``
        (the operator must stop: another replica may hold the Lease by then)."""
        last = datetime.datetime.now(datetime.UTC)
        while not stop.wait(self.retry):
            if self.try_acquire_or_renew():
                last = datetime.datetime.now(datetime.UTC)
            elif datetime.datetime.now(datetime.UTC) - last > datetime.timedelta(seconds=self.duration):
                logger.error("leader election: lost lease %s/%s; stopping", self.namespace, self.name)
                lost.set()
                return

    def release(self) -> None:
        """Give the Lease up at shutdown, so a standby takes over at once."""
        try:
            spec, version = self._read()
            if spec is None or spec.get("holderIdentity") != self.identity:
                return
            body: Any = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace, "resourceVersion": version},
                "spec": {**spec, "holderIdentity": None, "leaseDurationSeconds": 1},
            }
            self.api.replace_namespaced_lease(self.name, self.namespace, body)
            logger.info("leader election: released lease %s/%s", self.namespace, self.name)
        except ApiException as error:
            logger.warning("leader election: could not release lease: %s", error.reason)
