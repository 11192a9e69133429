"""ECS ARNs: formed and parsed in one place, by the CRDs' status, the CLI and the ECS API.

An ARN names the operator's one ECS "account and region" (settings ``ECS_FACADE_ACCOUNT_ID``
and ``ECS_FACADE_REGION``); it does not name a Kubernetes namespace. Namespaced objects
(task definitions, services, tasks) are looked up in the namespace the request acts in
(docs/ecs-api.md, "Where things live"), so the ARN read back is the ARN handed out.

Formats are ECS's current ("long") ones; parsing also takes the old short forms ECS still
accepts (``service/<name>``, ``task/<id>``, ``container-instance/<id>``), which name no cluster.
"""

import re
from dataclasses import dataclass

# ECS names of clusters, services and task definition families
NAME_PATTERN = r"[A-Za-z0-9_-]{1,255}"
_NAME = re.compile(rf"^{NAME_PATTERN}$")
_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):ecs:(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<kind>cluster|service|task|task-definition|container-instance)/(?P<path>.+)$"
)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


@dataclass(frozen=True)
class Arns:
    """ARN formation for one account and region (``Config.arns``)."""

    region: str
    account_id: str

    def _prefix(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account_id}"

    def cluster(self, cluster: str) -> str:
        return f"{self._prefix()}:cluster/{cluster}"

    def service(self, cluster: str, service: str) -> str:
        return f"{self._prefix()}:service/{cluster}/{service}"

    def task(self, cluster: str, task_id: str) -> str:
        return f"{self._prefix()}:task/{cluster}/{task_id}"

    def task_definition(self, family: str, revision: int) -> str:
        return f"{self._prefix()}:task-definition/{family}:{revision}"

    def container_instance(self, cluster: str, instance_id: str) -> str:
        return f"{self._prefix()}:container-instance/{cluster}/{instance_id}"


@dataclass(frozen=True)
class ParsedArn:
    """An ECS ARN's parts. ``cluster`` is None for the short forms without one (and for task
    definitions, which belong to no cluster); ``name`` is the cluster's, service's or
    family's name, the task's or container instance's id; ``revision`` only for task
    definitions (None when the ARN names the family only)."""

    kind: str  # cluster | service | task | task-definition | container-instance
    region: str
    account_id: str
    name: str
    cluster: str | None = None
    revision: int | None = None


def is_arn(text: str) -> bool:
    return text.startswith("arn:")


def parse_arn(text: str) -> ParsedArn:
    """Parse an ECS ARN; ValueError says what is wrong with it."""
    match = _ARN.match(text.strip())
    if not match:
        raise ValueError(
            f"{text!r} is not an ECS ARN (expected arn:aws:ecs:<region>:<account>:<cluster|service|task|"
            "task-definition|container-instance>/...)"
        )
    kind, path = match.group("kind"), match.group("path")
    region, account = match.group("region"), match.group("account")
    parts = path.split("/")
    if kind == "task-definition":
        family, sep, revision = path.partition(":")
        if not _NAME.match(family) or (sep and (not revision.isdigit() or int(revision) < 1)):
            raise ValueError(f"{text!r}: expected task-definition/<family>:<revision> (revision a positive integer)")
        return ParsedArn(kind, region, account, family, revision=int(revision) if sep else None)
    if kind == "cluster":
        if len(parts) != 1 or not _NAME.match(parts[0]):
            raise ValueError(f"{text!r}: expected cluster/<name> (1-255 letters, digits, '-' and '_')")
        return ParsedArn(kind, region, account, parts[0], cluster=parts[0])
    pattern = _NAME if kind == "service" else _ID
    if len(parts) == 1 and pattern.match(parts[0]):
        return ParsedArn(kind, region, account, parts[0])
    if len(parts) == 2 and _NAME.match(parts[0]) and pattern.match(parts[1]):
        return ParsedArn(kind, region, account, parts[1], cluster=parts[0])
    raise ValueError(f"{text!r}: expected {kind}/<cluster>/<{'name' if kind == 'service' else 'id'}>")


def _of_kind(text: str, kind: str) -> ParsedArn:
    parsed = parse_arn(text)
    if parsed.kind != kind:
        raise ValueError(f"{text!r} is a {parsed.kind} ARN, not a {kind} ARN")
    return parsed


def cluster_name(ref: str | None, default: str = "default") -> str:
    """A cluster as ECS requests name it: its name or its ARN; absent or empty: ``default``."""
    text = (ref or "").strip()
    if not text:
        return default
    if is_arn(text):
        return _of_kind(text, "cluster").name
    if not _NAME.match(text):
        raise ValueError(f"cluster {text!r}: expected a cluster name (1-255 letters, digits, '-' and '_') or ARN")
    return text


@dataclass(frozen=True)
class MemberRef:
    """A service, task or container instance as a request names it: the name (or id), and
    the cluster its ARN names, if any (a short name or an old-form ARN names none)."""

    name: str
    cluster: str | None = None


def member_ref(ref: str, kind: str) -> MemberRef:
    """``kind``: service, task or container-instance; ``ref`` its name/id or its ARN."""
    text = ref.strip()
    if is_arn(text):
        parsed = _of_kind(text, kind)
        return MemberRef(parsed.name, parsed.cluster)
    pattern = _NAME if kind == "service" else _ID
    if not pattern.match(text):
        what = "name" if kind == "service" else "id"
        raise ValueError(f"{kind} {text!r}: expected a {kind} {what} or ARN")
    return MemberRef(text)
