"""Tasks the API server refuses to create, in ECS's terms: a namespace's Pod Security
admission (``pod-security.kubernetes.io/enforce: baseline|restricted`` refuses privileged
containers, added capabilities, host namespaces, ...), a ResourceQuota, a validating
webhook, a pod the API server finds invalid. No I/O.

ECS refuses such a launch before the task exists: RunTask answers with a failure, and the
service scheduler says "(service web) failed to launch a task with (error ...)." (as for a
task role it cannot assume). Here a service's ReplicaSet keeps the refusal in its condition
``ReplicaFailure`` (reason ``FailedCreate``) and retries; a DAEMON service's DaemonSet says it
only in Events (read while it lacks pods); a standalone task's pod is refused
when the operator applies it (an API error 403 or 422).

The refusal's words are the API server's: they name fields and containers, never values of
Secrets, but a webhook may say much; they are kept to one line of at most MAX_REFUSAL
characters.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

MAX_REFUSAL = 800  # characters: a condition's and an event's message stay readable
POD_SECURITY_REFUSED = "PodSecurityRefused"  # the namespace's Pod Security admission refused
TASK_LAUNCH_FAILED = "TaskLaunchFailed"  # any other refusal (a quota, a webhook, an invalid pod)
# the API server's answers that refuse the object itself: admission (403), validation (422),
# a webhook's own code (400 is the other one they use)
_REFUSING_CODES = (400, 403, 422)
# a 403 that refuses the caller, not the pod: RBAC's "User ... cannot create resource ..."
_NOT_ALLOWED = re.compile(r'is forbidden: User ".*" cannot ')
_ANY_POD_NAME = re.compile(r'pods "([^"]*)"')
_ERROR_CREATING = "Error creating: "  # how the controllers' FailedCreate events begin
# what the event recorder puts before a message once it merges similar events (10 in 10 min)
_COMBINED = "(combined from similar events): "


def bounded(message: str, limit: int = MAX_REFUSAL) -> str:
    """The message on one line, cut in its middle when longer than ``limit`` (the start says
    what refused, the end which container and field)."""
    line = " ".join(message.split())
    if len(line) <= limit:
        return line
    half = (limit - 1) // 2
    return f"{line[:half]}…{line[len(line) - (limit - 1 - half) :]}"


def refusal_reason(message: str) -> str:
    """The condition's reason for a refusal: PodSecurityRefused when the namespace's Pod
    Security admission refused (``violates PodSecurity``), else TaskLaunchFailed."""
    return POD_SECURITY_REFUSED if "violates PodSecurity" in message else TASK_LAUNCH_FAILED


def replica_set_refusal(replica_sets: Sequence[Mapping[str, Any]]) -> str | None:
    """The refusal of the first ReplicaSet (in the order given: the PRIMARY deployment's
    first) whose pods the API server refuses to create (condition ReplicaFailure True,
    reason FailedCreate), bounded. The pod's generated name is cut to the ReplicaSet's
    (``pods "web-7d4b9c-…"``): the ReplicaSet controller says it again with another name after
    each retry that clears the condition, and one refusal is one message."""
    for replica_set in replica_sets:
        for condition in (replica_set.get("status") or {}).get("conditions") or []:
            if (condition.get("type"), condition.get("status"), condition.get("reason")) != (
                "ReplicaFailure",
                "True",
                "FailedCreate",
            ):
                continue
            message = str(condition.get("message") or "").strip()
            if not message:
                continue
            return bounded(_pod_name_cut(message, str((replica_set.get("metadata") or {}).get("name", ""))))
    return None


def _pod_name_cut(message: str, owner: str) -> str:
    """``pods "web-7d4b9c-x2kq"`` cut to ``pods "web-7d4b9c-…"`` (wherever it is said): the
    controller names each new try's pod anew, and one refusal is one message."""
    prefix = f"{owner}-"
    if prefix == "-":
        return message
    return _ANY_POD_NAME.sub(
        lambda found: f'pods "{prefix}…"' if found.group(1).startswith(prefix) else found.group(0), message
    )


def lacks_pods(daemon_set: Mapping[str, Any] | None) -> bool:
    """The DaemonSet has fewer nodes with its pod than nodes that should run one: pods it
    could not create (or is about to)."""
    status = (daemon_set or {}).get("status") or {}
    return int(status.get("desiredNumberScheduled") or 0) > int(status.get("currentNumberScheduled") or 0)


def daemon_set_refusal(
    daemon_set: Mapping[str, Any] | None, events: Sequence[Mapping[str, Any]], since: str | None = None
) -> str | None:
    """The refusal of a DaemonSet's pods, bounded. A DaemonSet has no condition for it (a
    ReplicaSet has ReplicaFailure), only its controller's Warning Events, reason FailedCreate
    ("Error creating: pods "agent-x7k2p" is forbidden: ..."), which stay an hour: taken only
    while the DaemonSet lacks pods, and not from before ``since`` (its newest pod's creation: a
    pod made since says that refusal was resolved), the newest of those about this DaemonSet
    (its uid)."""
    if daemon_set is None or not lacks_pods(daemon_set):
        return None
    meta = daemon_set.get("metadata") or {}
    failed = [
        e
        for e in events
        if e.get("reason") == "FailedCreate"
        and (e.get("involvedObject") or {}).get("uid") == meta.get("uid")
        and (since is None or _event_time(e) >= since[:19])
    ]
    if not failed:
        return None
    newest = max(failed, key=_event_time)
    message = str(newest.get("message") or "").strip().removeprefix(_COMBINED).removeprefix(_ERROR_CREATING).strip()
    return bounded(_pod_name_cut(message, str(meta.get("name", "")))) if message else None


def api_refusal(code: int | None, body: str | bytes | None) -> str | None:
    """The API server's refusal of an object the operator applied (an ApiException's status
    code and body), bounded; None when it is no refusal of the object that a retry could not
    change: another code, the operator's own rights (RBAC), a namespace being deleted."""
    if code not in _REFUSING_CODES:
        return None
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    message = str(parsed.get("message") or "") if isinstance(parsed, dict) else text
    if not message.strip() or _NOT_ALLOWED.search(message) or "being terminated" in message:
        return None
    return bounded(message)


def _event_time(event: Mapping[str, Any]) -> str:
    # seconds (lastTimestamp) or microseconds (eventTime): compared as text to the second
    return str(event.get("lastTimestamp") or event.get("eventTime") or "")[:19]


def launch_failed(label: str, refusal: str) -> str:
    """ECS's service event for a task it could not launch."""
    return f"{label} failed to launch a task with (error {refusal})."


def refused_task(refusal: str) -> dict[str, Any]:
    """A standalone task whose pod was refused, as ECS describes a task that failed to start
    (timestamps aside: the controller stamps them): STOPPED, TaskFailedToStart, the refusal
    as the reason, prefixed with its kind as ECS prefixes an error's name."""
    return {
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": "TaskFailedToStart",
        "stoppedReason": f"{refusal_reason(refusal)}: {refusal}",
    }
