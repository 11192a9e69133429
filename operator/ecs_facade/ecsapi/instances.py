"""ListContainerInstances, DescribeContainerInstances, UpdateContainerInstancesState,
PutAttributes, DeleteAttributes, ListAttributes: pure halves.

A container instance is a node labelled for the cluster (views/container_instance.py
``cluster_of``); its view is the one the ECSCluster controller and the CLI show
(``describe_container_instance``), its state the DRAINING label (``instance_state_patch``), its
custom attributes node labels (translate/placement.py ``attribute_labels``). The handlers read
nodes (and the pods on them) and write node merge patches; everything here is pure.

``filter`` is the cluster query language of ``memberOf``, parsed by the same parser
(model/cluster_query.py): an ``attribute:`` comparison becomes the node selector requirement
placement makes of it (``comparison_requirement``) and is matched against the node's labels, so
a filter lists exactly the nodes a ``memberOf`` of that expression places tasks on; the other
subjects (``runningTasksCount``, ``agentConnected``, ``agentVersion``, ``registeredAt``,
``ec2InstanceId``, ``instanceId``) are compared with the ContainerInstance the client sees.
"""

import datetime
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ecs_facade import arns as ecs_arns
from ecs_facade.api import CUSTOM_ATTRIBUTE_LABEL_PREFIX, DEFAULT_CLUSTER, GROUP
from ecs_facade.arns import Arns
from ecs_facade.ecsapi.errors import ApiError, invalid_parameter
from ecs_facade.ecsapi.pagination import paged_answer
from ecs_facade.model.cluster_query import TASK_GROUP, And, Comparison, Expr, Not, Operator, Or, parse_expression
from ecs_facade.translate import TranslationError
from ecs_facade.translate.placement import (
    NodeValues,
    attribute_labels,
    comparison_requirement,
    node_label_values,
)
from ecs_facade.views.container_instance import (
    cluster_of,
    container_instance_id,
    describe_container_instance,
    instance_attributes,
    instance_state_patch,
)

TARGET_TYPE = "container-instance"
MAX_DESCRIBE = 100  # DescribeContainerInstances / UpdateContainerInstancesState, as ECS
MAX_ATTRIBUTES_PER_CALL = 10  # PutAttributes / DeleteAttributes, as ECS
MAX_CUSTOM_ATTRIBUTES = 10  # custom attributes on one resource, as ECS (AttributeLimitExceededException)
SETTABLE_STATES = ("ACTIVE", "DRAINING")
# fields of the ContainerInstance a filter compares (the other subjects are node labels)
_INSTANCE_SUBJECTS = frozenset(
    {"agentConnected", "agentVersion", "ec2InstanceId", "instanceId", "registeredAt", "runningTasksCount"}
)
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
# a container instance's ECS tags (TagResource on its ARN): JSON [{key, value}] in a node annotation
TAGS_ANNOTATION = f"{GROUP}/tags"

Node = Mapping[str, Any]
Pods = Mapping[str, Sequence[Mapping[str, Any]]]


def cluster_name(ref: str | None) -> str:
    try:
        return ecs_arns.cluster_name(ref, DEFAULT_CLUSTER)
    except ValueError as error:
        raise invalid_parameter(str(error)) from None


def node_name(node: Node) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


def cluster_nodes(nodes: Iterable[Node], cluster: str) -> list[Node]:
    """The cluster's container instances, by id (the order List answers in)."""
    members = [n for n in nodes if cluster_of((n.get("metadata") or {}).get("labels") or {}) == cluster]
    return sorted(members, key=container_instance_id)


def instance_arn(node: Node, cluster: str, arns: Arns) -> str:
    return arns.container_instance(cluster, container_instance_id(node))


def find_instance(ref: str, nodes: Sequence[Node], cluster: str) -> Node | None:
    """The instance a request names, among the cluster's: by id or ARN (an ARN of another
    cluster names none here), or by node name (ecs-facade's convenience: ECS has no such form,
    and no ECS id looks like a node name with a dot or of another length)."""
    try:
        ref_parts = ecs_arns.member_ref(ref, "container-instance")
    except ValueError:
        if ecs_arns.is_arn(ref.strip()):
            raise invalid_parameter(f"containerInstances: {ref!r} is not a container instance ARN") from None
        ref_parts = None
    if ref_parts is not None and ref_parts.cluster not in (None, cluster):
        return None
    wanted = ref_parts.name if ref_parts is not None else ref.strip()
    for node in nodes:
        if container_instance_id(node) == wanted:
            return node
    if ref_parts is None or ref_parts.cluster is None:
        return next((n for n in nodes if node_name(n) == ref.strip()), None)
    return None


def _missing_arn(ref: str, cluster: str, arns: Arns) -> str:
    text = ref.strip()
    return text if ecs_arns.is_arn(text) else arns.container_instance(cluster, text)


def describe(node: Node, pods: Pods, cluster: str, arns: Arns, include: Sequence[str] = ()) -> dict[str, Any]:
    """The ECS ``ContainerInstance`` of a node (views/container_instance.py), plus the
    ``include`` sections: ``TAGS`` (the node's tags annotation, node_tags) and
    ``CONTAINER_INSTANCE_HEALTH`` (from the node's Ready condition)."""
    instance = describe_container_instance(
        node, pods.get(node_name(node), ()), region=arns.region, account_id=arns.account_id
    )
    instance["containerInstanceArn"] = instance_arn(node, cluster, arns)
    if "TAGS" in include:
        instance["tags"] = node_tags(node)
    if "CONTAINER_INSTANCE_HEALTH" in include:
        instance["healthStatus"] = health_status(node)
    return instance


def node_tags(node: Node) -> list[dict[str, str]]:
    """The instance's tags (TAGS_ANNOTATION); an annotation that is not a tag list reads as none."""
    raw = ((node.get("metadata") or {}).get("annotations") or {}).get(TAGS_ANNOTATION)
    try:
        tags = json.loads(raw) if raw else []
    except ValueError:
        return []
    if not isinstance(tags, list):
        return []
    return [
        {"key": str(t["key"]), "value": str(t.get("value") or "")}
        for t in tags
        if isinstance(t, dict) and isinstance(t.get("key"), str)
    ]


def health_status(node: Node) -> dict[str, Any]:
    """``healthStatus``: the kubelet's Ready condition stands for the agent's runtime check."""
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is None:
        return {"overallStatus": "INSUFFICIENT_DATA", "details": []}
    status = {"True": "OK", "False": "IMPAIRED"}.get(str(ready.get("status")), "INSUFFICIENT_DATA")
    detail: dict[str, Any] = {"type": "CONTAINER_RUNTIME", "status": status}
    if ready.get("lastHeartbeatTime"):
        detail["lastUpdated"] = _epoch(str(ready["lastHeartbeatTime"]))
    if ready.get("lastTransitionTime"):
        detail["lastStatusChange"] = _epoch(str(ready["lastTransitionTime"]))
    return {"overallStatus": status, "details": [{k: v for k, v in detail.items() if v is not None}]}


def _epoch(timestamp: str) -> float | None:
    when = _datetime(timestamp)
    return when.timestamp() if when is not None else None


def _datetime(text: str) -> datetime.datetime | None:
    try:
        when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


# --- the filter


def parse_filter(text: str) -> Expr:
    """The filter, parsed as a memberOf expression; InvalidParameterException with the parser's
    message. ``task:group`` is refused: the filter selects instances, not tasks' groups."""
    try:
        expr = parse_expression(text, what="filter")
    except ValueError as error:
        raise invalid_parameter(str(error)) from None
    for comparison in _comparisons(expr):
        if comparison.subject == TASK_GROUP:
            raise invalid_parameter(
                f"filter {text!r}: task:group selects tasks, not container instances; ecs-facade does not "
                "evaluate it in a filter"
            )
    return expr


def _comparisons(expr: Expr) -> Iterable[Comparison]:
    if isinstance(expr, Comparison):
        yield expr
    elif isinstance(expr, Not):
        yield from _comparisons(expr.operand)
    else:
        for operand in expr.operands:
            yield from _comparisons(operand)


def filter_needs_pods(expr: Expr | None) -> bool:
    """Only ``runningTasksCount`` needs the pods on each node: List reads them only then."""
    return expr is not None and any(c.subject == "runningTasksCount" for c in _comparisons(expr))


def requirement_matches(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A node selector requirement against a node's labels, as the scheduler matches it."""
    key, operator = requirement["key"], requirement["operator"]
    values = list(requirement.get("values") or [])
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt"):
        if not present or not _INTEGER.match(labels[key]):
            return False
        value, bound = int(labels[key]), int(values[0])
        return value > bound if operator == "Gt" else value < bound
    raise ValueError(f"unknown node selector operator {operator!r}")


def _field(instance: Mapping[str, Any], subject: str) -> str | None:
    if subject == "agentConnected":
        return "true" if instance.get("agentConnected") else "false"
    if subject == "agentVersion":
        return (instance.get("versionInfo") or {}).get("agentVersion")
    if subject in ("ec2InstanceId", "instanceId"):
        return instance.get("ec2InstanceId")
    if subject == "runningTasksCount":
        return str(int(instance.get("runningTasksCount") or 0))
    registered = instance.get("registeredAt")
    return str(registered) if registered else None


def _order_key(subject: str, text: str) -> Any:
    """What ``<``/``>`` compare: integers for counts, instants for registeredAt, else text."""
    if subject == "runningTasksCount":
        if not _INTEGER.match(text.strip()):
            raise invalid_parameter(f"filter: runningTasksCount compares with an integer, not {text!r}")
        return int(text)
    if subject == "registeredAt":
        when = _datetime(text)
        if when is None:
            raise invalid_parameter(f"filter: registeredAt compares with a date (2024-01-31 or ISO 8601), not {text!r}")
        return when
    return text


def _compare_field(comparison: Comparison, actual: str | None) -> bool:
    operator = comparison.operator
    if operator is Operator.EXISTS:
        return actual is not None
    if operator is Operator.NOT_EXISTS:
        return actual is None
    if operator in (Operator.NE, Operator.NOT_IN, Operator.NOT_MATCHES):
        return actual is None or not _compare_field(
            Comparison(comparison.subject, _POSITIVE[operator], comparison.values), actual
        )
    if actual is None:
        return False
    subject = comparison.subject
    if operator in (Operator.EQ, Operator.IN):
        if subject in ("runningTasksCount", "registeredAt"):
            return any(_order_key(subject, actual) == _order_key(subject, v) for v in comparison.values)
        return actual in comparison.values
    if operator is Operator.MATCHES:
        try:
            return re.fullmatch(comparison.values[0], actual) is not None
        except re.error as error:
            raise invalid_parameter(f"filter '{comparison}': not a valid regular expression ({error})") from None
    left, right = _order_key(subject, actual), _order_key(subject, comparison.values[0])
    return bool(_ORDER[operator](left, right))


_POSITIVE = {Operator.NE: Operator.EQ, Operator.NOT_IN: Operator.IN, Operator.NOT_MATCHES: Operator.MATCHES}
_ORDER: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.GT: lambda a, b: a > b,
    Operator.GE: lambda a, b: a >= b,
    Operator.LT: lambda a, b: a < b,
    Operator.LE: lambda a, b: a <= b,
}


def matches(expr: Expr, node: Node, instance: Mapping[str, Any], node_values: NodeValues) -> bool:
    """The filter holds for this instance (``instance``: its ContainerInstance view)."""
    if isinstance(expr, Not):
        return not matches(expr.operand, node, instance, node_values)
    if isinstance(expr, And):
        return all(matches(o, node, instance, node_values) for o in expr.operands)
    if isinstance(expr, Or):
        return any(matches(o, node, instance, node_values) for o in expr.operands)
    if expr.subject in _INSTANCE_SUBJECTS:
        return _compare_field(expr, _field(instance, expr.subject))
    try:
        requirement = comparison_requirement(expr, node_values)
    except TranslationError as error:
        raise invalid_parameter(f"filter '{expr}': {error}") from None
    return requirement_matches(requirement, (node.get("metadata") or {}).get("labels") or {})


# --- the actions


def list_container_instances(
    request: Mapping[str, Any], nodes: Sequence[Node], pods: Pods, cluster: str, arns: Arns
) -> dict[str, Any]:
    """ListContainerInstances over the cluster's nodes (``nodes``: those of the cluster,
    cluster_nodes); ``status`` filters (none: every state), then ``filter``."""
    expr = parse_filter(str(request["filter"])) if request.get("filter") else None
    wanted = request.get("status")
    node_values = node_label_values(nodes)
    chosen_nodes = []
    for node in nodes:
        instance = describe(node, pods, cluster, arns)
        if wanted and instance["status"] != wanted:
            continue
        if expr is not None and not matches(expr, node, instance, node_values):
            continue
        chosen_nodes.append(node)
    return paged_answer(
        request,
        chosen_nodes,
        lambda node: (container_instance_id(node),),
        lambda node: instance_arn(node, cluster, arns),
        action="ListContainerInstances",
        member="containerInstanceArns",
    )


def _refs(request: Mapping[str, Any]) -> list[str]:
    refs = [str(ref) for ref in request.get("containerInstances") or []]
    if len(refs) > MAX_DESCRIBE:
        raise invalid_parameter(f"containerInstances: {len(refs)} given, at most {MAX_DESCRIBE} in one request")
    return refs


def resolve_instances(
    request: Mapping[str, Any], nodes: Sequence[Node], cluster: str, arns: Arns
) -> tuple[list[Node], list[dict[str, str]]]:
    """The nodes ``containerInstances`` names (each once, in the request's order) and the
    ``MISSING`` failures of those it names none of, as ECS answers them."""
    found: list[Node] = []
    failures: list[dict[str, str]] = []
    for ref in _refs(request):
        node = find_instance(ref, nodes, cluster)
        if node is None:
            failures.append({"arn": _missing_arn(ref, cluster, arns), "reason": "MISSING"})
        elif all(node_name(n) != node_name(node) for n in found):
            found.append(node)
    return found, failures


def describe_container_instances(
    request: Mapping[str, Any], nodes: Sequence[Node], pods: Pods, cluster: str, arns: Arns
) -> dict[str, Any]:
    found, failures = resolve_instances(request, nodes, cluster, arns)
    include = list(request.get("include") or [])
    return {
        "containerInstances": [describe(node, pods, cluster, arns, include) for node in found],
        "failures": failures,
    }


def state_patch(request: Mapping[str, Any]) -> dict[str, Any]:
    """UpdateContainerInstancesState's node patch: only ACTIVE and DRAINING can be set, as in ECS."""
    status = str(request.get("status") or "")
    if status not in SETTABLE_STATES:
        raise invalid_parameter(f"status: {status!r} cannot be set; expected ACTIVE or DRAINING")
    return instance_state_patch(status)


# --- attributes


def _target(attribute: Mapping[str, Any], index: int, nodes: Sequence[Node], cluster: str) -> Node:
    where = f"attributes[{index}]"
    target_type = attribute.get("targetType")
    target_id = str(attribute.get("targetId") or "").strip()
    if target_type not in (None, TARGET_TYPE):
        raise invalid_parameter(f"{where}.targetType: {target_type!r}; expected {TARGET_TYPE}")
    if not target_id:
        raise invalid_parameter(f"{where}.targetId: required (the container instance's id or ARN)")
    if not ecs_arns.is_arn(target_id) and target_type is None:
        raise invalid_parameter(f"{where}.targetType: required with a short id (container-instance)")
    node = find_instance(target_id, nodes, cluster)
    if node is None:
        raise ApiError("TargetNotFoundException", f"Could not find {target_id}.")
    return node


def attribute_patches(
    request: Mapping[str, Any], nodes: Sequence[Node], cluster: str, arns: Arns, delete: bool
) -> tuple[dict[str, dict[str, str | None]], dict[str, Any]]:
    """PutAttributes (or, ``delete``, DeleteAttributes): the label patch of each node (by node
    name) and the answer. Everything is checked before anything is written: an unknown target
    is TargetNotFoundException, a value no node label can hold InvalidParameterException, more
    than 10 custom attributes on one instance AttributeLimitExceededException."""
    attributes = list(request.get("attributes") or [])
    if len(attributes) > MAX_ATTRIBUTES_PER_CALL:
        raise invalid_parameter(f"attributes: {len(attributes)} given, at most {MAX_ATTRIBUTES_PER_CALL} in one call")
    patches: dict[str, dict[str, str | None]] = {}
    answered: list[dict[str, Any]] = []
    for index, attribute in enumerate(attributes):
        node = _target(attribute, index, nodes, cluster)
        name = str(attribute.get("name") or "")
        value = "" if delete or attribute.get("value") is None else str(attribute["value"])
        try:
            labels = attribute_labels([(name, value)], delete=delete)
        except TranslationError as error:
            raise invalid_parameter(f"attributes[{index}]: {error}") from None
        patches.setdefault(node_name(node), {}).update(labels)
        shown = {"name": name, "targetType": TARGET_TYPE, "targetId": instance_arn(node, cluster, arns)}
        if attribute.get("value") is not None:
            shown["value"] = str(attribute["value"])
        answered.append(shown)
    if not delete:
        for node in nodes:
            patch = patches.get(node_name(node))
            if patch is not None and _custom_count(node, patch) > MAX_CUSTOM_ATTRIBUTES:
                raise ApiError(
                    "AttributeLimitExceededException",
                    f"You can apply up to {MAX_CUSTOM_ATTRIBUTES} custom attributes for each resource.",
                )
    return patches, {"attributes": answered}


def _custom_count(node: Node, patch: Mapping[str, str | None]) -> int:
    labels: dict[str, str | None] = dict((node.get("metadata") or {}).get("labels") or {})
    labels.update(patch)
    return sum(1 for k, v in labels.items() if k.startswith(CUSTOM_ATTRIBUTE_LABEL_PREFIX) and v is not None)


def list_attributes(request: Mapping[str, Any], nodes: Sequence[Node], cluster: str, arns: Arns) -> dict[str, Any]:
    """ListAttributes: every attribute of the cluster's instances (built-in and custom, as
    ECS lists them), filtered by ``attributeName`` and ``attributeValue``, by target then name."""
    if request.get("targetType") != TARGET_TYPE:
        raise invalid_parameter(f"targetType: {request.get('targetType')!r}; expected {TARGET_TYPE}")
    if request.get("attributeValue") is not None and request.get("attributeName") is None:
        raise invalid_parameter("attributeValue: give attributeName with it")
    rows: list[tuple[str, dict[str, Any]]] = []
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        node_info = (node.get("status") or {}).get("nodeInfo") or {}
        arn = instance_arn(node, cluster, arns)
        for attribute in instance_attributes(labels, node_info):
            if request.get("attributeName") is not None and attribute["name"] != request["attributeName"]:
                continue
            if request.get("attributeValue") is not None and attribute.get("value") != request["attributeValue"]:
                continue
            rows.append((container_instance_id(node), {**attribute, "targetType": TARGET_TYPE, "targetId": arn}))
    return paged_answer(
        request,
        rows,
        lambda row: (row[0], row[1]["name"]),
        lambda row: row[1],
        action="ListAttributes",
        member="attributes",
    )
