"""Tasks the API server refuses to create (views/refusals.py): a ReplicaSet's FailedCreate, an
API error on a standalone task's pod, in ECS's words, field by field."""

import json
from typing import Any

import pytest

from ecs_facade.views.refusals import (
    MAX_REFUSAL,
    POD_SECURITY_REFUSED,
    TASK_LAUNCH_FAILED,
    api_refusal,
    bounded,
    daemon_set_refusal,
    lacks_pods,
    launch_failed,
    refusal_reason,
    refused_task,
    replica_set_refusal,
)

BASELINE = (
    'violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)'
)
QUOTA = "exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2"


def replica_set(name: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"replicas": 0, "conditions": list(conditions)}}


def failure(message: str, status: str = "True", reason: str = "FailedCreate") -> dict[str, Any]:
    return {"type": "ReplicaFailure", "status": status, "reason": reason, "message": message}


def status_body(message: str, code: int = 403, reason: str = "Forbidden") -> str:
    return json.dumps({"kind": "Status", "status": "Failure", "message": message, "reason": reason, "code": code})


# --- bounded ------------------------------------------------------------------------------------


def test_a_short_message_is_kept_on_one_line() -> None:
    assert bounded("denied:\n  privileged\tcontainer") == "denied: privileged container"
    assert bounded(BASELINE) == BASELINE


def test_a_long_message_is_cut_in_its_middle_to_the_limit() -> None:
    message = "start " + "x" * 2000 + " end"
    cut = bounded(message)
    assert len(cut) == MAX_REFUSAL
    assert cut.startswith("start x") and cut.endswith("x end")
    assert "…" in cut
    assert bounded("abcdefghij", 5) == "ab…ij"
    assert len(bounded("abcdefghij", 6)) == 6


# --- reasons and words ------------------------------------------------------------------------------


def test_the_reason_names_pod_security_else_a_failed_launch() -> None:
    assert refusal_reason(f'pods "web-1" is forbidden: {BASELINE}') == POD_SECURITY_REFUSED == "PodSecurityRefused"
    assert refusal_reason(f'pods "web-1" is forbidden: {QUOTA}') == TASK_LAUNCH_FAILED == "TaskLaunchFailed"


def test_the_service_event_is_ecs_s_failed_launch() -> None:
    assert launch_failed("(service web)", "pods are refused") == (
        "(service web) failed to launch a task with (error pods are refused)."
    )


def test_a_refused_task_failed_to_start_with_the_refusal_as_its_reason() -> None:
    refusal = f'pods "job-1" is forbidden: {BASELINE}'
    assert refused_task(refusal) == {
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": "TaskFailedToStart",
        "stoppedReason": f"PodSecurityRefused: {refusal}",
    }
    assert refused_task(QUOTA)["stoppedReason"] == f"TaskLaunchFailed: {QUOTA}"


# --- a ReplicaSet's FailedCreate ----------------------------------------------------------------------


def test_no_replica_set_failure_is_no_refusal() -> None:
    assert replica_set_refusal([]) is None
    assert replica_set_refusal([replica_set("web-abc")]) is None
    assert replica_set_refusal([{"metadata": {"name": "web-abc"}}]) is None  # no status yet
    assert replica_set_refusal([replica_set("web-abc", failure(BASELINE, status="False"))]) is None
    assert replica_set_refusal([replica_set("web-abc", failure(BASELINE, reason="FailedDelete"))]) is None
    assert replica_set_refusal([replica_set("web-abc", failure(""))]) is None
    other = {"type": "Available", "status": "True", "reason": "FailedCreate", "message": BASELINE}
    assert replica_set_refusal([replica_set("web-abc", other)]) is None


def test_the_generated_pod_name_is_cut_to_the_replica_sets() -> None:
    message = f'pods "web-7d4b9c-x2x4z" is forbidden: {BASELINE}'
    assert replica_set_refusal([replica_set("web-7d4b9c", failure(message))]) == (
        f'pods "web-7d4b9c-…" is forbidden: {BASELINE}'
    )
    # another retry's pod name: the same refusal
    again = f'pods "web-7d4b9c-9qk2m" is forbidden: {BASELINE}'
    assert replica_set_refusal([replica_set("web-7d4b9c", failure(again))]) == replica_set_refusal(
        [replica_set("web-7d4b9c", failure(message))]
    )


def test_a_name_that_is_not_the_replica_sets_pod_is_kept() -> None:
    message = f'pods "other-x2x4z" is forbidden: {BASELINE}'
    assert replica_set_refusal([replica_set("web-7d4b9c", failure(message))]) == message
    assert replica_set_refusal([replica_set("web-7d4b9c", failure(QUOTA))]) == QUOTA


def test_the_first_replica_set_refused_is_said() -> None:
    sets = [replica_set("web-new"), replica_set("web-mid", failure(QUOTA)), replica_set("web-old", failure(BASELINE))]
    assert replica_set_refusal(sets) == QUOTA


def test_a_long_replica_set_refusal_is_bounded() -> None:
    message = f'admission webhook "policy.example.com" denied the request: {"no " * 1000}'
    assert len(replica_set_refusal([replica_set("web-abc", failure(message))]) or "") == MAX_REFUSAL


# --- an API error on a standalone task's pod ---------------------------------------------------------


def test_an_admission_refusal_is_the_status_message() -> None:
    message = f'pods "job-1" is forbidden: {BASELINE}'
    assert api_refusal(403, status_body(message)) == message
    assert api_refusal(403, status_body(message).encode()) == message  # the client's body may be bytes


def test_an_invalid_pod_and_a_webhook_s_own_code_are_refusals() -> None:
    invalid = 'Pod "job-1" is invalid: spec.containers[0].image: Required value'
    assert api_refusal(422, status_body(invalid, 422, "Invalid")) == invalid
    webhook = 'admission webhook "deny.example.com" denied the request: no privileged pods'
    assert api_refusal(400, status_body(webhook, 400, "BadRequest")) == webhook


def test_a_body_that_is_not_a_status_is_said_as_it_is() -> None:
    assert api_refusal(403, "forbidden by policy") == "forbidden by policy"


@pytest.mark.parametrize(
    ("code", "body"),
    [
        # the operator's own rights: fixed by an administrator, so retried
        (
            403,
            status_body(
                'pods "job-1" is forbidden: User "system:serviceaccount:ecs:ecs-facade" cannot patch '
                'resource "pods" in API group "" in the namespace "ns"'
            ),
        ),
        (
            403,
            status_body(
                'pods "job-1" is forbidden: unable to create new content in namespace ns because it is being terminated'
            ),
        ),
        (500, status_body("etcdserver: request timed out", 500, "InternalError")),
        (409, status_body("conflict", 409, "Conflict")),
        (429, status_body("too many requests", 429, "TooManyRequests")),
        (None, None),
        (403, ""),
        (403, status_body("")),
    ],
)
def test_what_a_retry_may_change_is_no_refusal(code: int | None, body: str | None) -> None:
    assert api_refusal(code, body) is None


def test_a_long_api_refusal_is_bounded() -> None:
    assert len(api_refusal(403, status_body("denied " * 500)) or "") == MAX_REFUSAL


def daemon_set(desired: int, current: int, name: str = "agent", uid: str = "ds-uid") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": uid},
        "status": {"desiredNumberScheduled": desired, "currentNumberScheduled": current},
    }


def failed_create(message: str, at: str, uid: str = "ds-uid", reason: str = "FailedCreate") -> dict[str, Any]:
    """The DaemonSet controller's Warning Event for a pod it could not create."""
    return {
        "type": "Warning",
        "reason": reason,
        "message": f"Error creating: {message}",
        "lastTimestamp": at,
        "involvedObject": {"kind": "DaemonSet", "name": "agent", "uid": uid},
    }


ADMISSION = 'is forbidden: violates PodSecurity "baseline:latest": privileged (container "app" must not set ...)'


def test_a_daemon_sets_newest_failed_create_is_its_refusal() -> None:
    events = [
        failed_create(f'pods "agent-x7k2p" {ADMISSION}', "2026-12-07T13:00:05Z"),
        failed_create('pods "agent-b9q4m" is forbidden: exceeded quota: pods', "2026-12-07T13:00:09Z"),
        failed_create('pods "agent-zz" is forbidden: other', "2026-12-07T13:00:30Z", uid="an-older-daemon-set"),
        failed_create("node went away", "2026-12-07T13:00:40Z", reason="FailedPlacement"),
    ]
    assert daemon_set_refusal(daemon_set(3, 1), events) == 'pods "agent-…" is forbidden: exceeded quota: pods'
    assert daemon_set_refusal(daemon_set(3, 1), events[:1]) == f'pods "agent-…" {ADMISSION}'


def test_a_daemon_set_with_its_pods_has_no_refusal_whatever_its_old_events() -> None:
    """The Events stay an hour: a refusal since resolved says nothing."""
    events = [failed_create(f'pods "agent-x7k2p" {ADMISSION}', "2026-12-07T13:00:05Z")]
    assert lacks_pods(daemon_set(3, 2)) and not lacks_pods(daemon_set(3, 3)) and not lacks_pods(daemon_set(0, 0))
    assert daemon_set_refusal(daemon_set(3, 3), events) is None
    assert daemon_set_refusal(daemon_set(3, 1), []) is None
    assert daemon_set_refusal(None, events) is None


def test_a_long_daemon_set_refusal_is_bounded() -> None:
    events = [failed_create(f'pods "agent-x" is forbidden: {"x" * 5000}', "2026-12-07T13:00:05Z")]
    said = daemon_set_refusal(daemon_set(1, 0), events)
    assert said is not None and len(said) == MAX_REFUSAL


def test_combined_similar_events_say_the_same_refusal() -> None:
    """After 10 similar events in 10 minutes the event recorder merges them into one, its
    message prefixed and its pod name changing with each try: still one refusal."""
    combined = failed_create(f'pods "agent-zz9q1" {ADMISSION}', "2026-12-07T13:10:00Z")
    combined["message"] = f"(combined from similar events): {combined['message']}"
    assert daemon_set_refusal(daemon_set(3, 1), [combined]) == f'pods "agent-…" {ADMISSION}'


def test_a_refusal_from_before_the_newest_pod_says_nothing() -> None:
    """A pod made after the event: that refusal was resolved (a later gap, a rolling update's
    or a new node's, must not bring it back for the hour the event stays)."""
    events = [failed_create(f'pods "agent-x7k2p" {ADMISSION}', "2026-12-07T13:00:05Z")]
    assert daemon_set_refusal(daemon_set(3, 2), events, since="2026-12-07T13:05:00Z") is None
    assert daemon_set_refusal(daemon_set(3, 2), events, since="2026-12-07T13:00:05Z") is not None
    micro = {**events[0], "lastTimestamp": None, "eventTime": "2026-12-07T13:06:00.123456Z"}
    assert daemon_set_refusal(daemon_set(3, 2), [micro], since="2026-12-07T13:05:00Z") is not None
