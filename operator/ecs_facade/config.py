"""Operator settings, from ECS_FACADE_* environment variables (the Helm chart sets them).

The only module that reads the environment (besides the CLI's entry point): the operator
reads its settings once, at start-up (``Config.from_env``, by ``ecs-facade run`` or
controllers/settings.py's startup handler), keeps them in its state
(controllers/state.py, ``OperatorState.config``) and passes them down; pure code gets
plain values. docs/configuration.md lists them all."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_facade.arns import Arns
from ecs_facade.translate.loadbalancing import MAX_DEREGISTRATION_DELAY
from ecs_facade.translate.taskdefinition import TranslationOptions

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Config:
    region: str = "us-east-1"
    account_id: str = "000000000000"
    workers: int = 20  # kopf's pool for its handlers (task definitions, tasks, clusters)
    # the ECSService work queue's: they mostly wait on the API server, and with more of them
    # a burst of new services gets its Deployments as fast as the API server takes them
    service_workers: int = 60
    watch_server_timeout: int = 300
    # every API call the operator makes itself (kube/client.py, the informers' lists and
    # watches, the leader election): how long it waits for a connection (and its TLS
    # handshake), and for each read of the answer. A call that times out raises and is retried
    # by its caller with backoff (the work queues, kopf), so one stalled connection cannot hold
    # a worker, or the Lease's renewal, for ever; a silent watch is given up after the watch
    # timeout and this read timeout (kube/informer.py)
    api_connect_timeout_seconds: float = 5.0
    api_read_timeout_seconds: float = 30.0
    allow_host_path: bool = False
    pod_level_resources: bool = True
    # containers run once and an essential exit ends the task (Kubernetes 1.36+: translate.lifecycle)
    container_restart_rules: bool = True
    stopped_task_retention_seconds: int = 3600  # ECS keeps stopped tasks about an hour
    cluster_sync_seconds: float = 5.0  # how often clusters recount instances and drain
    # how often the services' disruption budgets and Services (not watched) are checked and
    # put back when deleted by hand (controllers/service/children.py)
    children_check_seconds: float = 60.0
    # a service's status refresh waits this long after its first task event, so that tasks
    # starting together cost one status write (spec changes never wait)
    status_batch_seconds: float = 2.0
    # a status that only says how far a rollout got (task counts) is written at most this
    # often per service (a rollout's end, a failure, a condition or an event is written at once)
    status_min_interval_seconds: float = 10.0
    # and all services' such writes together at most this many per second (0: no limit);
    # a burst of rollouts then reports progress at this rate, its ends and failures at once
    status_progress_writes_per_second: float = 5.0
    # a service task is healthy, and counts towards a steady state (its deployment COMPLETED,
    # "has reached a steady state."), once it has been running and Ready this long without a
    # break: a task that exits a moment after it starts must not make a rollout look done
    steady_state_seconds: float = 10.0
    # how long kopf's per-object worker waits for the object's next event before it exits;
    # while it waits it holds the object's last body (kopf's default is 5 s)
    kopf_idle_seconds: float = 0.5
    # a load-balanced service's task keeps running this long after it leaves the Service's
    # endpoints before its containers get SIGTERM (ECS: the target group's deregistration
    # delay, 300 s by default, for in-flight requests). Here the wait is for every node's
    # kube-proxy and the ingress controllers to stop sending it new connections, which takes
    # seconds; the ECSService annotation ecs.facade.dev/deregistration-delay-seconds overrides it
    deregistration_delay_seconds: int = 10
    # leader election (leader.py, client-go's rules and defaults): a standby takes the Lease
    # over once its record has not changed for lease_duration on the standby's own clock; the
    # leader renews every retry_period and stops (the process exits) when it has not renewed
    # within renew_deadline, which is shorter, so that it stops before a standby can start
    lease_duration_seconds: int = 15
    lease_renew_deadline_seconds: float = 10.0
    lease_retry_period_seconds: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        """The settings in ``env`` (the process's environment unless given); ValueError names
        the setting that is wrong and what it expects (docs/configuration.md lists them)."""
        env = os.environ if env is None else env

        def get(name: str, default: object) -> str:
            return env.get(f"ECS_FACADE_{name}", str(default))

        return cls(
            region=get("REGION", cls.region),
            account_id=get("ACCOUNT_ID", cls.account_id),
            workers=_count("ECS_FACADE_WORKERS", get("WORKERS", cls.workers)),
            service_workers=_count("ECS_FACADE_SERVICE_WORKERS", get("SERVICE_WORKERS", cls.service_workers)),
            watch_server_timeout=_count(
                "ECS_FACADE_WATCH_TIMEOUT_SECONDS", get("WATCH_TIMEOUT_SECONDS", cls.watch_server_timeout)
            ),
            api_connect_timeout_seconds=_positive(
                "ECS_FACADE_API_CONNECT_TIMEOUT_SECONDS",
                get("API_CONNECT_TIMEOUT_SECONDS", cls.api_connect_timeout_seconds),
            ),
            api_read_timeout_seconds=_positive(
                "ECS_FACADE_API_READ_TIMEOUT_SECONDS", get("API_READ_TIMEOUT_SECONDS", cls.api_read_timeout_seconds)
            ),
            allow_host_path=_flag("ECS_FACADE_ALLOW_HOST_PATH", get("ALLOW_HOST_PATH", "false")),
            pod_level_resources=_flag("ECS_FACADE_POD_LEVEL_RESOURCES", get("POD_LEVEL_RESOURCES", "true")),
            container_restart_rules=_flag("ECS_FACADE_CONTAINER_RESTART_RULES", get("CONTAINER_RESTART_RULES", "true")),
            stopped_task_retention_seconds=_count(
                "ECS_FACADE_STOPPED_TASK_RETENTION_SECONDS",
                get("STOPPED_TASK_RETENTION_SECONDS", cls.stopped_task_retention_seconds),
                minimum=0,
            ),
            cluster_sync_seconds=_positive(
                "ECS_FACADE_CLUSTER_SYNC_SECONDS", get("CLUSTER_SYNC_SECONDS", cls.cluster_sync_seconds)
            ),
            children_check_seconds=_positive(
                "ECS_FACADE_CHILDREN_CHECK_SECONDS", get("CHILDREN_CHECK_SECONDS", cls.children_check_seconds)
            ),
            status_batch_seconds=_not_negative(
                "ECS_FACADE_STATUS_BATCH_SECONDS", get("STATUS_BATCH_SECONDS", cls.status_batch_seconds)
            ),
            status_min_interval_seconds=_not_negative(
                "ECS_FACADE_STATUS_MIN_INTERVAL_SECONDS",
                get("STATUS_MIN_INTERVAL_SECONDS", cls.status_min_interval_seconds),
            ),
            status_progress_writes_per_second=_not_negative(
                "ECS_FACADE_STATUS_PROGRESS_WRITES_PER_SECOND",
                get("STATUS_PROGRESS_WRITES_PER_SECOND", cls.status_progress_writes_per_second),
                unit="writes per second",
            ),
            steady_state_seconds=_not_negative(
                "ECS_FACADE_STEADY_STATE_SECONDS", get("STEADY_STATE_SECONDS", cls.steady_state_seconds)
            ),
            kopf_idle_seconds=_not_negative(
                "ECS_FACADE_KOPF_IDLE_SECONDS", get("KOPF_IDLE_SECONDS", cls.kopf_idle_seconds)
            ),
            deregistration_delay_seconds=_whole_seconds(
                "ECS_FACADE_DEREGISTRATION_DELAY_SECONDS",
                get("DEREGISTRATION_DELAY_SECONDS", cls.deregistration_delay_seconds),
                maximum=MAX_DEREGISTRATION_DELAY,
            ),
            **_lease_timings(
                get("LEASE_DURATION_SECONDS", cls.lease_duration_seconds),
                get("LEASE_RENEW_DEADLINE_SECONDS", cls.lease_renew_deadline_seconds),
                get("LEASE_RETRY_PERIOD_SECONDS", cls.lease_retry_period_seconds),
            ),
        )

    @property
    def translation(self) -> TranslationOptions:
        return TranslationOptions(
            pod_level_resources=self.pod_level_resources,
            allow_host_path=self.allow_host_path,
            container_restart_rules=self.container_restart_rules,
        )

    @property
    def arns(self) -> Arns:
        """ARNs of this account and region (ecs_facade/arns.py: one rule for status, CLI and API)."""
        return Arns(self.region, self.account_id)

    def task_definition_arn(self, family: str, revision: int) -> str:
        return self.arns.task_definition(family, revision)

    def cluster_arn(self, cluster: str) -> str:
        return self.arns.cluster(cluster)

    def task_arn(self, cluster: str, task_id: str) -> str:
        return self.arns.task(cluster, task_id)


def _lease_timings(duration: str, deadline: str, retry: str) -> dict[str, Any]:
    """The leader election's three timings, each valid and in the order that makes one leader
    at a time: retry period < renew deadline < lease duration."""
    names = ("ECS_FACADE_LEASE_DURATION_SECONDS", "ECS_FACADE_LEASE_RENEW_DEADLINE_SECONDS")
    lease = _count(names[0], duration)
    renew = _positive(names[1], deadline)
    period = _positive("ECS_FACADE_LEASE_RETRY_PERIOD_SECONDS", retry)
    if renew >= lease:
        raise ValueError(
            f"{names[1]}={deadline!r}: expected fewer seconds than {names[0]} ({lease}): a leader must stop"
            " before a standby may take over"
        )
    if period >= renew:
        raise ValueError(
            f"ECS_FACADE_LEASE_RETRY_PERIOD_SECONDS={retry!r}: expected fewer seconds than {names[1]} ({deadline}):"
            " a leader renews several times within its deadline"
        )
    return {
        "lease_duration_seconds": lease,
        "lease_renew_deadline_seconds": renew,
        "lease_retry_period_seconds": period,
    }


def _flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r}: expected true or false")


def _count(name: str, value: str, minimum: int = 1) -> int:
    text = value.strip()
    if not text.isdigit() or not text.isascii() or int(text) < minimum:
        raise ValueError(f"{name}={value!r}: expected a whole number, {minimum} or more")
    return int(text)


def _positive(name: str, value: str) -> float:
    number = _not_negative(name, value)
    if number == 0:
        raise ValueError(f"{name}={value!r}: expected a number of seconds, more than 0")
    return number


def _not_negative(name: str, value: str, unit: str = "seconds") -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"{name}={value!r}: expected a number of {unit}, 0 or more")
    return number


def _whole_seconds(name: str, value: str, maximum: int) -> int:
    text = value.strip()
    if not text.isdigit() or not text.isascii() or int(text) > maximum:
        raise ValueError(f"{name}={value!r}: expected a whole number of seconds from 0 to {maximum}")
    return int(text)


def kubeconfig_path() -> str | None:
    """$KUBECONFIG, read when the first client is made (after the tests that run the operator
    in their own process set it), not when the client library was imported."""
    return os.environ.get("KUBECONFIG")
