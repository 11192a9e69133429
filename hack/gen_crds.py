#!/usr/bin/env python3
"""Generate the ECS CRDs (task definitions, services, tasks, clusters) and their pydantic models from botocore.

botocore's service model is the source of truth for ECS field names, shapes, enums and
documentation, so both the API server's schema (crds/) and the operator's models
(operator/ecs_facade/model/generated.py) are derived from it instead of being written
by hand and drifting apart.  What botocore does not encode (limits ECS enforces on the
server, cross-field rules) is added here, in one place.

    python hack/gen_crds.py          write the models and the CRDs
    python hack/gen_crds.py --check  exit 1 if a committed file is not what this generates
"""

from __future__ import annotations

import argparse
import difflib
import html
import json
import re
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import botocore  # type: ignore[import-untyped]
import botocore.loaders  # type: ignore[import-untyped]
import yaml
from pydantic import BaseModel

REPO = Path(__file__).resolve().parent.parent
MODELS_PATH = REPO / "operator" / "ecs_facade" / "model" / "generated.py"
CRD_PATH = REPO / "crds" / "ecs.facade.dev_ecstaskdefinitions.yaml"
SERVICE_CRD_PATH = REPO / "crds" / "ecs.facade.dev_ecsservices.yaml"
TASK_CRD_PATH = REPO / "crds" / "ecs.facade.dev_ecstasks.yaml"
CLUSTER_CRD_PATH = REPO / "crds" / "ecs.facade.dev_ecsclusters.yaml"

ROOT = "RegisterTaskDefinitionRequest"
DESCRIBED = "TaskDefinition"  # the shape `describe-task-definition` returns
SERVICE_ROOT = "CreateServiceRequest"
TASK_ROOT = "RunTaskRequest"
CLUSTER_ROOT = "CreateClusterRequest"
ROOTS = (ROOT, SERVICE_ROOT, TASK_ROOT, CLUSTER_ROOT)  # generated.py holds the shapes of all, each once

Shape = Mapping[str, Any]
Schema = dict[str, Any]

NAME_PATTERN = "^[A-Za-z0-9_-]{1,255}$"
# RunTask startedBy: up to 128 letters, digits, hyphens, forward slashes and underscores
STARTED_BY_PATTERN = "^[A-Za-z0-9_/-]{1,128}$"
OUTPUT_ONLY_DESCRIPTION = "Output-only field of describe-task-definition: accepted and ignored."

# Members that ECS rejects when absent although botocore does not mark them required.
EXTRA_REQUIRED: dict[str, tuple[str, ...]] = {
    "ContainerDefinition": ("name", "image"),
    # botocore leaves it optional for EXTERNAL deployment controllers; ecs-facade has none
    SERVICE_ROOT: ("taskDefinition",),
}

# Request members that ecs-facade does not take: one ECSTask object is one task (no
# count), and the operator makes RunTask idempotent itself (no clientToken).
DROPPED: dict[str, tuple[str, ...]] = {
    TASK_ROOT: ("count", "clientToken"),
}

# Members botocore marks required that ecs-facade fills in itself: family and
# serviceName default to the Kubernetes object's name.
NOT_REQUIRED: dict[str, tuple[str, ...]] = {
    ROOT: ("family",),
    CLUSTER_ROOT: ("clusterName",),
    SERVICE_ROOT: ("serviceName",),
}

# Limits ECS enforces on the server (documented, not in botocore); the API server then
# rejects a bad value at `kubectl apply` instead of the operator failing later.
MEMBER_SCHEMA: dict[tuple[str, str], Schema] = {
    (ROOT, "family"): {"maxLength": 255, "pattern": NAME_PATTERN},
    ("ContainerDefinition", "name"): {"maxLength": 255, "pattern": NAME_PATTERN},
    ("ContainerDefinition", "image"): {"minLength": 1},
    ("ContainerDefinition", "cpu"): {"minimum": 0},
    ("ContainerDefinition", "memory"): {"minimum": 4},
    ("ContainerDefinition", "memoryReservation"): {"minimum": 4},
    ("ContainerDependency", "containerName"): {"maxLength": 255},
    ("HealthCheck", "interval"): {"minimum": 5, "maximum": 300},
    ("HealthCheck", "timeout"): {"minimum": 2, "maximum": 60},
    ("HealthCheck", "retries"): {"minimum": 1, "maximum": 10},
    ("HealthCheck", "startPeriod"): {"minimum": 0, "maximum": 300},
    ("PortMapping", "containerPort"): {"minimum": 0, "maximum": 65535},
    ("PortMapping", "hostPort"): {"minimum": 0, "maximum": 65535},
    (SERVICE_ROOT, "serviceName"): {"maxLength": 255, "pattern": NAME_PATTERN},
    (SERVICE_ROOT, "taskDefinition"): {"minLength": 1},
    (SERVICE_ROOT, "desiredCount"): {"minimum": 0},
    (SERVICE_ROOT, "clientToken"): {"maxLength": 36},
    (SERVICE_ROOT, "healthCheckGracePeriodSeconds"): {"minimum": 0},
    ("DeploymentConfiguration", "maximumPercent"): {"minimum": 0},
    ("DeploymentConfiguration", "minimumHealthyPercent"): {"minimum": 0, "maximum": 100},
    ("LoadBalancer", "containerPort"): {"minimum": 0, "maximum": 65535},
    ("ServiceRegistry", "port"): {"minimum": 0, "maximum": 65535},
    ("ServiceRegistry", "containerPort"): {"minimum": 0, "maximum": 65535},
    (TASK_ROOT, "taskDefinition"): {"minLength": 1},
    (TASK_ROOT, "startedBy"): {"maxLength": 128, "pattern": STARTED_BY_PATTERN},
    (CLUSTER_ROOT, "clusterName"): {"maxLength": 255, "pattern": NAME_PATTERN},
    ("CapacityProviderStrategyItem", "capacityProvider"): {"minLength": 1, "maxLength": 255},
}

# Defaults the API server fills in (`default:` in the CRD) and the models have too, so
# that a raw dict in a test means what the same object means on a cluster.  Only
# defaults that hold whatever else the spec says: deploymentConfiguration's percentages
# depend on schedulingStrategy (200/100 for REPLICA, 100/0 for DAEMON, where ECS
# rejects a maximumPercent above 100), which a static schema default cannot express;
# ecs_facade.model.service computes them instead.
DEFAULTS: dict[tuple[str, str], Any] = {
    (SERVICE_ROOT, "cluster"): "default",
    (TASK_ROOT, "cluster"): "default",
}

# ecs-facade's own words, appended to botocore's (cut) documentation of a member.
NOTES: dict[tuple[str, str], str] = {
    (SERVICE_ROOT, "serviceName"): "ecs-facade: defaults to metadata.name.",
    (SERVICE_ROOT, "desiredCount"): (
        "Required unless schedulingStrategy is DAEMON. The scale subresource sets it (kubectl scale)."
    ),
    (SERVICE_ROOT, "schedulingStrategy"): "REPLICA when unset. Cannot be changed after creation.",
    ("DeploymentConfiguration", "maximumPercent"): (
        "When unset: 200 for REPLICA, 100 for DAEMON. At least 100 for REPLICA, at most 100 for DAEMON."
    ),
    ("DeploymentConfiguration", "minimumHealthyPercent"): "When unset: 100 for REPLICA, 0 for DAEMON.",
    (TASK_ROOT, "startedBy"): "At most 128 letters, digits, hyphens, forward slashes and underscores.",
    (CLUSTER_ROOT, "clusterName"): "ecs-facade: defaults to metadata.name. Cannot be changed.",
    (CLUSTER_ROOT, "capacityProviders"): (
        "ecs-facade: each is a node group, the nodes labelled ecs.facade.dev/capacity-provider=<name>"
        " unless capacityProviderNodeGroups gives it a selector."
    ),
}

# Task-level cpu/memory: ECS JSON has strings ("1024", "1 vCPU"), YAML users write ints.
INT_OR_STRING: dict[tuple[str, str], str] = {
    (ROOT, "cpu"): (
        'Task-level CPU units: an integer (1024) or a string as ECS accepts it ("1024", "1 vCPU", '
        '"0.5 vcpu", ".25 vCPU"). Required for Fargate; 1024 units are one vCPU.'
    ),
    (ROOT, "memory"): (
        'Task-level memory: an integer in MiB (2048) or a string as ECS accepts it ("2048", "2 GB", '
        '"2GB", ".5 gb"). Required for Fargate; otherwise every container needs memory or memoryReservation.'
    ),
}


def int_or_string_patterns() -> dict[tuple[str, str], str]:
    """The string forms of task-level cpu/memory, from the operator's own parser (one definition: the API
    server checks the pattern, the operator parses what matches it; an int is not checked by a pattern)."""
    sys.path.insert(0, str(REPO / "operator"))
    from ecs_facade.model.taskdefinition import TASK_CPU_PATTERN, TASK_MEMORY_PATTERN

    return {(ROOT, "cpu"): TASK_CPU_PATTERN, (ROOT, "memory"): TASK_MEMORY_PATTERN}


# Every array gets maxItems so that the API server can bound the cost of CEL rules.
# containerDefinitions: ECS allows 10 containers per task definition.
DEFAULT_MAX_ITEMS = 100
MAX_ITEMS: dict[tuple[str, str], int] = {
    (ROOT, "containerDefinitions"): 10,
    ("ContainerDefinition", "environment"): 1000,
    ("ContainerDefinition", "secrets"): 1000,
    # ECS limits for a service: placement rules as documented in botocore, one service
    # registry, 20 capacity providers, 5 load balancers (target groups) per service
    (SERVICE_ROOT, "placementConstraints"): 10,
    (SERVICE_ROOT, "placementStrategy"): 5,
    (SERVICE_ROOT, "serviceRegistries"): 1,
    (SERVICE_ROOT, "capacityProviderStrategy"): 20,
    (SERVICE_ROOT, "loadBalancers"): 5,
    # RunTask: up to 10 placement constraints and 5 placement strategy rules per task
    (TASK_ROOT, "placementConstraints"): 10,
    (TASK_ROOT, "placementStrategy"): 5,
    (TASK_ROOT, "capacityProviderStrategy"): 20,
    (CLUSTER_ROOT, "capacityProviders"): 20,
    (CLUSTER_ROOT, "defaultCapacityProviderStrategy"): 20,
}

# Shapes botocore leaves undocumented.
CLASS_DOCS = {
    ROOT: "The ECS RegisterTaskDefinition request: the content of one task definition revision.",
    SERVICE_ROOT: "The ECS CreateService request (serviceName defaults to metadata.name), plus forceNewDeployment.",
    TASK_ROOT: "The ECS RunTask request for one task (no count, no clientToken), plus desiredStatus and reason.",
    CLUSTER_ROOT: "The ECS CreateCluster request (clusterName defaults to metadata.name), plus node membership.",
}

# ecs-facade fields beside the botocore members of a request: (python annotation, schema).
FORCE_NEW_DEPLOYMENT = (
    "ecs-facade: any new value, e.g. a timestamp, starts a new deployment of the same task definition"
    " (ECS UpdateService forceNewDeployment). The value itself means nothing."
)
TASK_DESIRED_STATUS = (
    "ecs-facade: RUNNING runs the task; STOPPED stops it (ECS StopTask). A STOPPED task cannot be"
    " started again: create a new ECSTask instead."
)
TASK_REASON = (
    "ecs-facade: the reason given to ECS StopTask when desiredStatus becomes STOPPED; it shows in"
    " status.stoppedReason. Up to 255 characters."
)


def label_selector(description: str) -> Schema:
    """A Kubernetes LabelSelector (metav1.LabelSelector), matched by the operator."""
    return {
        "description": description,
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "matchExpressions": {
                "type": "array",
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "required": ["key", "operator"],
                    "properties": {
                        "key": {"type": "string", "minLength": 1, "maxLength": 317},
                        "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                        "values": {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 63}},
                    },
                    "x-kubernetes-validations": [
                        {
                            "rule": "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
                            "message": "matchExpressions: In and NotIn need values; Exists and DoesNotExist take none",
                        }
                    ],
                },
            },
        },
    }


INSTANCE_SELECTOR = (
    "ecs-facade: nodes matching this label selector are made container instances of this cluster: the"
    " operator labels them ecs.facade.dev/cluster=<clusterName> (and removes only the labels it set)."
    " Nodes can also join by carrying that label themselves (kubelet --node-labels), like ECS_CLUSTER."
)
NAMESPACE_SELECTOR = "ecs-facade: the namespaces whose services and tasks may run on this cluster; unset means any."
NODE_GROUPS = (
    "ecs-facade: the node group of a capacity provider, as a label selector. Providers not listed here"
    " select the nodes labelled ecs.facade.dev/capacity-provider=<name>."
)


EXTENSIONS: dict[str, dict[str, tuple[str, Schema]]] = {
    CLUSTER_ROOT: {
        "instanceSelector": ("dict[str, Any]", label_selector(INSTANCE_SELECTOR)),
        "namespaceSelector": ("dict[str, Any]", label_selector(NAMESPACE_SELECTOR)),
        "capacityProviderNodeGroups": (
            "list[dict[str, Any]]",
            {
                "description": NODE_GROUPS,
                "type": "array",
                "maxItems": 20,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["capacityProvider"],
                "items": {
                    "type": "object",
                    "required": ["capacityProvider", "nodeSelector"],
                    "properties": {
                        "capacityProvider": {"type": "string", "minLength": 1, "maxLength": 255},
                        "nodeSelector": label_selector("The nodes of this capacity provider."),
                    },
                },
            },
        ),
    },
    SERVICE_ROOT: {
        "forceNewDeployment": ("str", {"description": FORCE_NEW_DEPLOYMENT, "type": "string", "maxLength": 256}),
    },
    TASK_ROOT: {
        "desiredStatus": (
            "str",
            {
                "description": TASK_DESIRED_STATUS,
                "type": "string",
                "enum": ["RUNNING", "STOPPED"],
                "default": "RUNNING",
            },
        ),
        "reason": ("str", {"description": TASK_REASON, "type": "string", "maxLength": 255}),
    },
}

PY_SCALARS = {
    "string": "str",
    "integer": "int",
    "long": "int",
    "boolean": "bool",
    "double": "float",
    "float": "float",
    "timestamp": "Any",
    "blob": "str",
}
OPENAPI_SCALARS = {
    "string": "string",
    "integer": "integer",
    "long": "integer",
    "boolean": "boolean",
    "double": "number",
    "float": "number",
    "blob": "string",
}

# ---------------------------------------------------------------------------- model


def botocore_version() -> str:
    return str(botocore.__version__)


def load_model() -> tuple[dict[str, Shape], str]:
    """The ECS shapes of the installed botocore (its bundled model, no network), and where they come from."""
    model = botocore.loaders.Loader().load_service_model("ecs", "service-2")
    source = f"botocore {botocore_version()} (ECS API {model['metadata']['apiVersion']})"
    return dict(model["shapes"]), source


def members(shapes: Mapping[str, Shape], name: str) -> dict[str, Any]:
    """The members of structure `name` that ecs-facade takes (botocore's, less DROPPED), in order."""
    dropped = DROPPED.get(name, ())
    return {m: ref for m, ref in shapes[name]["members"].items() if m not in dropped}


def children(shapes: Mapping[str, Shape], name: str) -> Iterator[str]:
    """Names of the shapes a shape refers to, in botocore's (stable) member order."""
    shape = shapes[name]
    if shape["type"] == "structure":
        for member in members(shapes, name).values():
            yield member["shape"]
    elif shape["type"] == "list":
        yield shape["member"]["shape"]
    elif shape["type"] == "map":
        yield shape["key"]["shape"]
        yield shape["value"]["shape"]


def is_document(shape: Shape) -> bool:
    """A free-form JSON value (botocore `document`): no members to generate, anything goes."""
    return bool(shape.get("document"))


def structures_in_dependency_order(shapes: Mapping[str, Shape], root: str) -> list[str]:
    """Structures reachable from root, each after the ones it uses (post-order DFS); no documents."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if is_document(shapes[name]):
            return
        for child in children(shapes, name):
            visit(child)
        if shapes[name]["type"] == "structure":
            order.append(name)

    visit(root)
    return order


def required_members(shapes: Mapping[str, Shape], name: str) -> list[str]:
    shape = shapes[name]
    required = [*shape.get("required", []), *EXTRA_REQUIRED.get(name, ())]
    skip = NOT_REQUIRED.get(name, ())
    return [m for m in members(shapes, name) if m in required and m not in skip]


def output_only_members(shapes: Mapping[str, Shape]) -> list[str]:
    """Members of describe-task-definition's TaskDefinition that a request does not have."""
    request = shapes[ROOT]["members"]
    return [m for m in shapes[DESCRIBED]["members"] if m not in request]


_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})


def describe(documentation: str | None, limit: int = 400) -> str:
    """Plain text of the first paragraph of a botocore doc, cut at a sentence boundary.

    kubectl explain shows it; the full text is in the AWS docs, so one paragraph is
    enough and keeps the CRD small.
    """
    if not documentation:
        return ""
    text = ""
    for paragraph in re.split(r"</?(?:p|note|ul|ol|li|important|div)>", documentation):
        text = html.unescape(re.sub(r"<[^>]+>", "", paragraph)).translate(_TYPOGRAPHY)
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            break
    if text.endswith(":"):  # "... in the following ways:" announces a list that is cut off
        text = text[: max(text.rfind(". ", 0, -1) + 1, 0)] or text
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", head)]
    if ends and ends[-1] > limit // 3:
        return head[: ends[-1]]
    return head[: head.rfind(" ")].rstrip(",;:") + " ..."


# --------------------------------------------------------------- pydantic models


def first_sentence(text: str) -> str:
    """Class docstrings say what a shape is; the details are in the CRD's descriptions."""
    return re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]


def py_type(shapes: Mapping[str, Shape], name: str) -> str:
    shape = shapes[name]
    kind = shape["type"]
    if is_document(shape):
        return "Any"
    if kind == "structure":
        return name
    if kind == "list":
        return f"list[{py_type(shapes, shape['member']['shape'])}]"
    if kind == "map":
        key = py_type(shapes, shape["key"]["shape"])
        return f"dict[{key}, {py_type(shapes, shape['value']['shape'])}]"
    return PY_SCALARS[kind]


def docstring(text: str, indent: str) -> list[str]:
    """A docstring wrapped to the line length that ruff checks (110)."""
    text = text.replace("\\", "\\\\").replace('"""', "'''").rstrip('"')
    lines = textwrap.wrap(text, width=106 - len(indent), break_on_hyphens=False) or ["(undocumented)"]
    if len(lines) == 1 and len(indent) + len(lines[0]) + 6 <= 110:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def structures_of_all_roots(shapes: Mapping[str, Shape]) -> list[str]:
    """Every structure of ROOTS once, in dependency order: shared shapes (Tag, ...) come first."""
    order: list[str] = []
    for root in ROOTS:
        order += [name for name in structures_in_dependency_order(shapes, root) if name not in order]
    return order


def field_line(member: str, annotation: str, required: bool, default: Any) -> str:
    if required:
        return f"    {member}: {annotation}"
    if annotation == "Any":
        return f"    {member}: Any = None"
    if default is not None:
        value = json.dumps(default) if isinstance(default, str) else repr(default)
        return f"    {member}: {annotation} = {value}"
    return f"    {member}: {annotation} | None = None"


def render_models(shapes: Mapping[str, Shape], source: str) -> str:
    """Source of operator/ecs_facade/model/generated.py."""
    reserved = {n for n in dir(BaseModel) if not n.startswith("_")}
    body: list[str] = []
    uses_any = False
    for name in structures_of_all_roots(shapes):
        shape = shapes[name]
        body += ["", "", f"class {name}(GeneratedModel):"]
        text = CLASS_DOCS.get(name) or first_sentence(describe(shape.get("documentation")))
        body += docstring(text, "    ")
        body.append("")
        required = required_members(shapes, name)
        for member, ref in members(shapes, name).items():
            if member in reserved:
                raise SystemExit(f"{name}.{member} would shadow a pydantic BaseModel attribute")
            annotation = py_type(shapes, ref["shape"])
            uses_any |= "Any" in annotation
            if (name, member) in INT_OR_STRING:
                annotation = "str | int"
            line = field_line(member, annotation, member in required, DEFAULTS.get((name, member)))
            enum = shapes[ref["shape"]].get("enum")
            if enum:
                comment = f"  # {' | '.join(enum)}"
                line += comment if len(line) + len(comment) <= 110 else f"  # enum {ref['shape']}"
            body.append(line)
        extensions = EXTENSIONS.get(name, {})
        if extensions:
            body.append("    # ecs-facade's own fields, not part of the ECS request")
        for member, (annotation, schema) in extensions.items():
            uses_any |= "Any" in annotation
            line = field_line(member, annotation, False, schema.get("default"))
            if "enum" in schema:
                line += f"  # {' | '.join(schema['enum'])}"
            body.append(line)
    output_only = sorted(output_only_members(shapes))
    header = [
        f"# Generated by hack/gen_crds.py from {source}.",
        "# DO NOT EDIT by hand: change hack/gen_crds.py and run `make generate`.",
        '"""Pydantic models of the ECS RegisterTaskDefinition, CreateService, RunTask and CreateCluster requests.',
        "",
        "Class names are botocore shape names and field names ECS member names (camelCase), so",
        "ECS JSON validates as is.  Unknown keys are rejected: a typo must not vanish silently.",
        '"""',
        "",
    ]
    if uses_any:
        header.append("from typing import Any")
        header.append("")
    header += [
        "from pydantic import ConfigDict",
        "",
        "from ecs_facade.model.base import EcsModel",
        "",
        "# Keys describe-task-definition returns that are not part of a RegisterTaskDefinition request.",
        "TASK_DEFINITION_OUTPUT_ONLY_FIELDS: frozenset[str] = frozenset(",
        "    {",
        *(f'        "{m}",' for m in output_only),
        "    }",
        ")",
        "",
        "",
        "class GeneratedModel(EcsModel):",
        '    """Base of the generated shapes: unlike EcsModel it forbids unknown keys."""',
        "",
        '    model_config = ConfigDict(extra="forbid", frozen=True)',
    ]
    return "\n".join(header + body) + "\n"


# ----------------------------------------------------------------------- CRD


def openapi(shapes: Mapping[str, Shape], owner: str, member: str, ref: Mapping[str, Any]) -> Schema:
    """Structural schema of one member of a structure, with its documentation."""
    key = (owner, member)
    text = describe(ref.get("documentation") or shapes[ref["shape"]].get("documentation"))
    if key in NOTES:
        text = f"{text} {NOTES[key]}".strip()
    if key in INT_OR_STRING:
        return {
            "x-kubernetes-int-or-string": True,
            "description": INT_OR_STRING[key],
            "pattern": int_or_string_patterns()[key],
        }
    schema = shape_schema(shapes, ref["shape"], max_items=MAX_ITEMS.get(key, DEFAULT_MAX_ITEMS))
    if text:
        schema = {"description": text, **schema}
    schema.update(MEMBER_SCHEMA.get(key, {}))
    if key in DEFAULTS:
        schema["default"] = DEFAULTS[key]
    return schema


def shape_schema(shapes: Mapping[str, Shape], name: str, max_items: int = DEFAULT_MAX_ITEMS) -> Schema:
    shape = shapes[name]
    kind = shape["type"]
    if is_document(shape):
        return {"x-kubernetes-preserve-unknown-fields": True}
    if kind == "structure":
        schema: Schema = {"type": "object"}
        required = required_members(shapes, name)
        if required:
            schema["required"] = required
        if shape.get("union"):
            schema["maxProperties"] = 1
        schema["properties"] = {m: openapi(shapes, name, m, ref) for m, ref in members(shapes, name).items()}
        schema.update(RULES.get(name, {}))
        return schema
    if kind == "list":
        schema = {"type": "array", "maxItems": min(max_items, shape.get("max", max_items))}
        schema["items"] = shape_schema(shapes, shape["member"]["shape"])
        if "min" in shape and shape["min"] > 0:
            schema["minItems"] = shape["min"]
        return schema
    if kind == "map":
        return {"type": "object", "additionalProperties": shape_schema(shapes, shape["value"]["shape"])}
    if kind == "timestamp":
        return {"x-kubernetes-preserve-unknown-fields": True}
    schema = {"type": OPENAPI_SCALARS[kind]}
    if "enum" in shape:
        schema["enum"] = list(shape["enum"])
    if kind == "string":
        if shape.get("min"):
            schema["minLength"] = shape["min"]
        if "max" in shape:
            schema["maxLength"] = shape["max"]
    elif kind in ("integer", "long"):
        if "min" in shape:
            schema["minimum"] = shape["min"]
        if "max" in shape:
            schema["maximum"] = shape["max"]
    return schema


def rule(expression: str, message: str, message_expression: str = "", field_path: str = "") -> Schema:
    out: Schema = {"rule": expression, "message": message}
    if message_expression:
        out["messageExpression"] = message_expression
    if field_path:
        out["fieldPath"] = field_path
    return out


# --------------------------------------------------------------- service auto scaling
# spec.autoScaling: Application Auto Scaling's scalable target (RegisterScalableTarget) and
# its scaling policies (PutScalingPolicy) for ecs:service:DesiredCount, inside the service
# (docs/autoscaling.md says why not a kind of its own). Member names and enums are the
# application-autoscaling service model's, camelCased like every other field here.
AAS_ECS_METRIC_TYPES = ("ECSService", "ALBRequestCountPerTarget")
MAX_SCALING_POLICIES = 10
AUTO_SCALING = (
    "ecs-facade: Application Auto Scaling for this service (RegisterScalableTarget and PutScalingPolicy on"
    " ecs:service:DesiredCount), run by a HorizontalPodAutoscaler that owns the task count while it is set."
    " desiredCount is then the initial count (clamped to minCapacity..maxCapacity) and the count the service"
    " returns to when autoScaling is removed."
)
ALARM = (
    "ecs-facade: the CloudWatch alarm that triggers this step policy in ECS (PutMetricAlarm): the metric and"
    " the threshold it is compared with. Step policies need one each."
)


def auto_scaling_model() -> dict[str, Shape]:
    """The application-autoscaling shapes (botocore's bundled model): the source of the enums."""
    return dict(botocore.loaders.Loader().load_service_model("application-autoscaling", "service-2")["shapes"])


def aas_enum(shapes: Mapping[str, Shape], name: str) -> list[str]:
    return list(shapes[name]["enum"])


def auto_scaling_schema() -> Schema:
    shapes = auto_scaling_model()
    metric_types = [t for t in aas_enum(shapes, "MetricType") if t.startswith(AAS_ECS_METRIC_TYPES)]
    cooldown = {"type": "integer", "format": "int32", "minimum": 0, "maximum": 86400}
    policy_name = {"type": "string", "minLength": 1, "maxLength": 256}
    predefined = {
        "type": "object",
        "required": ["predefinedMetricType"],
        "properties": {
            "predefinedMetricType": {"type": "string", "enum": metric_types},
            "resourceLabel": {
                "type": "string",
                "maxLength": 1023,
                "description": "The ALB target group for ALBRequestCountPerTarget; accepted and not used"
                " (docs/autoscaling.md).",
            },
        },
    }
    customized = {
        "type": "object",
        "required": ["metricName"],
        "description": "A metric of the Kubernetes external metrics API (metricName, dimensions as its label"
        " selector), as an adapter serves it; namespace, statistic and unit are the adapter's concern.",
        "properties": {
            "metricName": {"type": "string", "minLength": 1, "maxLength": 255},
            "namespace": {"type": "string", "maxLength": 255},
            "dimensions": {
                "type": "array",
                "maxItems": 30,
                "items": {
                    "type": "object",
                    "required": ["name", "value"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 255},
                        "value": {"type": "string", "maxLength": 1024},
                    },
                },
            },
            "statistic": {"type": "string", "enum": aas_enum(shapes, "MetricStatistic")},
            "unit": {"type": "string", "maxLength": 64},
        },
    }
    one_metric = rule(
        "has(self.predefinedMetricSpecification) != has(self.customizedMetricSpecification)",
        "give exactly one of predefinedMetricSpecification and customizedMetricSpecification",
    )
    target_tracking = {
        "type": "object",
        "required": ["policyName", "targetValue"],
        "x-kubernetes-validations": [one_metric],
        "properties": {
            "policyName": policy_name,
            "targetValue": {
                "type": "number",
                "exclusiveMinimum": True,
                "minimum": 0,
                "description": "The metric value to hold: a percentage for the utilization metrics.",
            },
            "predefinedMetricSpecification": predefined,
            "customizedMetricSpecification": customized,
            "scaleOutCooldown": {**cooldown, "description": "Seconds; 300 when unset (the ECS default)."},
            "scaleInCooldown": {**cooldown, "description": "Seconds; 300 when unset (the ECS default)."},
            "disableScaleIn": {"type": "boolean"},
        },
    }
    alarm = {
        "type": "object",
        "description": ALARM,
        "required": ["comparisonOperator", "threshold"],
        "x-kubernetes-validations": [one_metric],
        "properties": {
            "predefinedMetricSpecification": predefined,
            "customizedMetricSpecification": customized,
            "comparisonOperator": {
                "type": "string",
                "enum": [
                    "GreaterThanOrEqualToThreshold",
                    "GreaterThanThreshold",
                    "LessThanThreshold",
                    "LessThanOrEqualToThreshold",
                ],
            },
            "threshold": {"type": "number", "minimum": 0},
        },
    }
    out_adjustments = "self.stepAdjustments.all(a, a.scalingAdjustment > 0)"
    in_adjustments = "self.stepAdjustments.all(a, a.scalingAdjustment < 0)"
    step = {
        "type": "object",
        "required": ["policyName", "adjustmentType", "stepAdjustments", "alarm"],
        "x-kubernetes-validations": [
            rule(
                "self.adjustmentType != 'ExactCapacity'",
                "adjustmentType ExactCapacity cannot be expressed as a HorizontalPodAutoscaler policy;"
                " use ChangeInCapacity or PercentChangeInCapacity",
                field_path=".adjustmentType",
            ),
            rule(
                f"{out_adjustments} || {in_adjustments}",
                "a step scaling policy either scales out (every scalingAdjustment > 0) or scales in (every"
                " scalingAdjustment < 0)",
                field_path=".stepAdjustments",
            ),
            rule(
                f"({out_adjustments}) == self.alarm.comparisonOperator.startsWith('Greater')",
                "a scale-out step policy needs a GreaterThan alarm and a scale-in one a LessThan alarm",
                field_path=".alarm.comparisonOperator",
            ),
        ],
        "properties": {
            "policyName": policy_name,
            "adjustmentType": {"type": "string", "enum": aas_enum(shapes, "AdjustmentType")},
            "stepAdjustments": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "required": ["scalingAdjustment"],
                    "properties": {
                        "metricIntervalLowerBound": {"type": "number"},
                        "metricIntervalUpperBound": {"type": "number"},
                        "scalingAdjustment": {"type": "integer", "format": "int32"},
                    },
                },
            },
            "minAdjustmentMagnitude": {"type": "integer", "format": "int32", "minimum": 1},
            "cooldown": {**cooldown, "description": "Seconds; 300 when unset (the ECS default)."},
            "metricAggregationType": {"type": "string", "enum": aas_enum(shapes, "MetricAggregationType")},
            "alarm": alarm,
        },
    }
    capacity = {"type": "integer", "format": "int32", "minimum": 0, "maximum": 100000}
    suspended = {"type": "boolean"}

    def policies(item: Schema, what: str) -> Schema:
        return {
            "type": "array",
            "description": what,
            "maxItems": MAX_SCALING_POLICIES,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["policyName"],
            "items": item,
        }

    return {
        "type": "object",
        "description": AUTO_SCALING,
        "required": ["minCapacity", "maxCapacity"],
        "x-kubernetes-validations": [
            rule(
                "self.minCapacity <= self.maxCapacity",
                "minCapacity must not exceed maxCapacity",
                field_path=".minCapacity",
            ),
            rule(
                "self.maxCapacity >= 1",
                "maxCapacity must be at least 1",
                field_path=".maxCapacity",
            ),
            rule(
                "!has(self.stepScalingPolicies) || !has(self.targetTrackingScalingPolicies)"
                " || size(self.stepScalingPolicies) == 0 || size(self.targetTrackingScalingPolicies) == 0",
                "step scaling and target tracking policies cannot be combined on one HorizontalPodAutoscaler;"
                " use one kind",
                field_path=".stepScalingPolicies",
            ),
            rule(
                "!has(self.stepScalingPolicies) || (size(self.stepScalingPolicies) <= 2"
                " && self.stepScalingPolicies.filter(p, p.stepAdjustments[0].scalingAdjustment > 0).size() <= 1"
                " && self.stepScalingPolicies.filter(p, p.stepAdjustments[0].scalingAdjustment < 0).size() <= 1)",
                "at most one scale-out and one scale-in step scaling policy",
                field_path=".stepScalingPolicies",
            ),
        ],
        "properties": {
            "minCapacity": capacity,
            "maxCapacity": capacity,
            "suspendedState": {
                "type": "object",
                "properties": {
                    "dynamicScalingInSuspended": suspended,
                    "dynamicScalingOutSuspended": suspended,
                    "scheduledScalingSuspended": {
                        **suspended,
                        "description": "Accepted; ecs-facade has no scheduled scaling.",
                    },
                },
            },
            "targetTrackingScalingPolicies": policies(
                target_tracking,
                "PutScalingPolicy TargetTrackingScaling policies (TargetTrackingScalingPolicyConfiguration).",
            ),
            "stepScalingPolicies": policies(
                step, "PutScalingPolicy StepScaling policies (StepScalingPolicyConfiguration), each with its alarm."
            ),
        },
    }


EXTENSIONS[SERVICE_ROOT]["autoScaling"] = ("dict[str, Any]", auto_scaling_schema())


# CEL rules, each on the schema that holds the fields it reads, so they apply at spec
# level and again inside spec.taskDefinition (the schemas are the same there).  A
# messageExpression may only concatenate fields of self: the API server cannot bound
# the size of strings taken from filter() results or string(int), and rejects the CRD.
CONTAINER_RULES = [
    rule(
        "!has(self.memory) || !has(self.memoryReservation) || self.memoryReservation <= self.memory",
        "containerDefinitions[].memoryReservation must not be greater than memory of the same container",
        "'containerDefinitions: container \"' + self.name + '\": memoryReservation must not be greater"
        " than memory (the hard limit)'",
    ),
    rule(
        "!has(self.dependsOn) || self.dependsOn.all(d, d.containerName != self.name)",
        "containerDefinitions[].dependsOn: a container cannot depend on itself",
        "'containerDefinitions: container \"' + self.name + '\" lists itself in dependsOn'",
        ".dependsOn",
    ),
]
CONTAINER_LIST_RULES = [
    rule(
        "self.all(c, self.exists_one(o, o.name == c.name))",
        "containerDefinitions: container names must be unique",
    ),
    rule(
        "self.exists(c, !has(c.essential) || c.essential)",
        "containerDefinitions: at least one container must be essential (essential defaults to true)",
    ),
    rule(
        "self.all(c, !has(c.dependsOn) || c.dependsOn.all(d, self.exists(o, o.name == d.containerName)))",
        "containerDefinitions[].dependsOn[].containerName must name a container of this task definition",
    ),
]


def host_port_is_container_port(mode: str) -> str:
    """In awsvpc and host mode a hostPort, if set (0 is unset), must equal containerPort (ECS PortMapping)."""
    return (
        f"!has(self.networkMode) || self.networkMode != '{mode}' || !has(self.containerDefinitions)"
        " || self.containerDefinitions.all(c, !has(c.portMappings) || c.portMappings.all(p,"
        " !has(p.hostPort) || p.hostPort == 0 || !has(p.containerPort) || p.hostPort == p.containerPort))"
    )


BODY_RULES = [
    rule(
        "has(self.memory) || !has(self.containerDefinitions)"
        " || self.containerDefinitions.all(c, has(c.memory) || has(c.memoryReservation))",
        "containerDefinitions: every container needs memory or memoryReservation unless the task-level memory is set",
        field_path=".containerDefinitions",
    ),
    *(
        rule(
            host_port_is_container_port(mode),
            f"containerDefinitions[].portMappings[].hostPort: ECS requires hostPort to equal containerPort or be"
            f" omitted in {mode} mode ({why}: no port is mapped)",
            field_path=".containerDefinitions",
        )
        for mode, why in (
            ("awsvpc", "the task has its own network interface"),
            ("host", "the containers listen on the node's network"),
        )
    ),
]
EITHER_FORM_MESSAGE = (
    "give either the RegisterTaskDefinition fields (containerDefinitions, ...) or"
    " describe-task-definition output under taskDefinition, not both and not neither"
)
SPEC_RULES = [rule("has(self.containerDefinitions) != has(self.taskDefinition)", EITHER_FORM_MESSAGE)]

RULES: dict[str, Schema] = {"ContainerDefinition": {"x-kubernetes-validations": CONTAINER_RULES}}


def task_definition_body(shapes: Mapping[str, Shape]) -> Schema:
    """The request members plus describe-task-definition's output-only keys."""
    schema = shape_schema(shapes, ROOT)
    schema["required"] = [m for m in schema.get("required", []) if m != "containerDefinitions"]
    if not schema["required"]:
        del schema["required"]
    properties = schema["properties"]
    properties["containerDefinitions"]["x-kubernetes-validations"] = CONTAINER_LIST_RULES
    for member in output_only_members(shapes):
        properties[member] = {
            "description": OUTPUT_ONLY_DESCRIPTION,
            "x-kubernetes-preserve-unknown-fields": True,
        }
    schema["x-kubernetes-validations"] = BODY_RULES
    return schema


def spec_schema(shapes: Mapping[str, Shape]) -> Schema:
    wrapped = task_definition_body(shapes)
    wrapped["description"] = (
        "The taskDefinition object of `aws ecs describe-task-definition` output, pasted unchanged;"
        " the alternative to giving the RegisterTaskDefinition fields directly in spec."
    )
    wrapped["required"] = ["containerDefinitions"]
    spec = task_definition_body(shapes)
    spec["description"] = (
        "The ECS RegisterTaskDefinition request, field for field (family defaults to metadata.name),"
        " or `aws ecs describe-task-definition` output ({taskDefinition: ..., tags: [...]})."
    )
    spec["properties"]["taskDefinition"] = wrapped
    spec["properties"]["deregisteredRevisions"] = {
        "description": "ecs-facade: revisions of this family to mark INACTIVE (ECS DeregisterTaskDefinition)."
        " Not part of a revision's content.",
        "type": "array",
        "maxItems": 1000,
        "x-kubernetes-list-type": "set",
        "items": {"type": "integer", "minimum": 1},
    }
    # ECS deregistration is permanent: revisions can be added to the list, never removed
    # (a spec-level transition rule, so that deleting the whole list is refused too)
    permanent = {
        "rule": "!has(oldSelf.deregisteredRevisions) || (has(self.deregisteredRevisions)"
        " && oldSelf.deregisteredRevisions.all(r, r in self.deregisteredRevisions))",
        "message": "deregisteredRevisions: a deregistered (INACTIVE) revision cannot be made ACTIVE again",
        "fieldPath": ".deregisteredRevisions",
    }
    spec["x-kubernetes-validations"] = [*SPEC_RULES, *spec["x-kubernetes-validations"], permanent]
    return {k: spec[k] for k in ("description", *(k for k in spec if k != "description"))}


def condition_list() -> Schema:
    """status.conditions, as Kubernetes API conventions have them (metav1.Condition)."""
    return {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["type", "status"],
            "properties": {
                "type": {"type": "string"},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                "reason": {"type": "string"},
                "message": {"type": "string"},
                "lastTransitionTime": {"type": "string", "format": "date-time"},
                "observedGeneration": {"type": "integer", "format": "int64"},
            },
        },
    }


def status_schema(shapes: Mapping[str, Shape]) -> Schema:
    revision = {
        "type": "object",
        "properties": {
            "revision": {"type": "integer", "format": "int64"},
            "taskDefinitionArn": {"type": "string"},
            "status": {"type": "string"},
            "registeredAt": {"type": "string", "format": "date-time"},
        },
    }
    return {
        "type": "object",
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64"},
            "family": {"type": "string", "description": "The ECS task definition family."},
            "revision": {
                "type": "integer",
                "format": "int64",
                "description": "The revision that the current spec registered.",
            },
            "taskDefinitionArn": {"type": "string", "description": "The ARN of that revision."},
            "status": {
                "type": "string",
                "enum": list(shapes["TaskDefinitionStatus"]["enum"]),
                "description": "The ECS status of that revision.",
            },
            "revisions": {
                "type": "array",
                "description": "Every known revision of the family.",
                "items": revision,
            },
            "conditions": condition_list(),
        },
    }


# --------------------------------------------------------------- ECSService

IS_DAEMON = "(has(self.schedulingStrategy) && self.schedulingStrategy == 'DAEMON')"
NOT_DAEMON = "(!has(self.schedulingStrategy) || self.schedulingStrategy != 'DAEMON')"
MAXIMUM_PERCENT = "self.deploymentConfiguration.maximumPercent"
HAS_MAXIMUM_PERCENT = "has(self.deploymentConfiguration) && has(self.deploymentConfiguration.maximumPercent)"


def effective_strategy(var: str) -> str:
    """schedulingStrategy of `var` (self or oldSelf), REPLICA when unset as in ECS."""
    return f"(has({var}.schedulingStrategy) ? {var}.schedulingStrategy : 'REPLICA')"


# Spec-level CEL rules for what ECS rejects across fields.  Each names the field it is
# about (fieldPath) so that kubectl shows spec.<field> before the message.
SERVICE_RULES = [
    rule(
        f"{NOT_DAEMON} || !has(self.autoScaling)",
        "autoScaling is not allowed when schedulingStrategy is DAEMON: ECS runs one task on each container instance",
        field_path=".autoScaling",
    ),
    rule(
        f"has(self.desiredCount) || {IS_DAEMON}",
        "desiredCount is required unless schedulingStrategy is DAEMON",
        field_path=".desiredCount",
    ),
    rule(
        f"{NOT_DAEMON} || !has(self.placementStrategy) || size(self.placementStrategy) == 0",
        "placementStrategy is not allowed when schedulingStrategy is DAEMON: ECS places one task on each"
        " container instance (placementConstraints still apply)",
        field_path=".placementStrategy",
    ),
    rule(
        f"{IS_DAEMON} || !({HAS_MAXIMUM_PERCENT}) || {MAXIMUM_PERCENT} >= 100",
        "deploymentConfiguration.maximumPercent must be at least 100 for a REPLICA service (it is the"
        " percentage of desiredCount allowed to run during a deployment)",
        field_path=".deploymentConfiguration.maximumPercent",
    ),
    rule(
        f"{NOT_DAEMON} || !({HAS_MAXIMUM_PERCENT}) || {MAXIMUM_PERCENT} <= 100",
        "deploymentConfiguration.maximumPercent cannot be above 100 when schedulingStrategy is DAEMON:"
        " ECS runs at most one task per container instance",
        field_path=".deploymentConfiguration.maximumPercent",
    ),
    rule(
        f"{NOT_DAEMON} || !has(self.launchType) || self.launchType != 'FARGATE'",
        "schedulingStrategy DAEMON is not supported with launchType FARGATE",
        field_path=".schedulingStrategy",
    ),
    rule(
        "!has(self.launchType) || !has(self.capacityProviderStrategy) || size(self.capacityProviderStrategy) == 0",
        "give either launchType or capacityProviderStrategy, not both",
        field_path=".capacityProviderStrategy",
    ),
    # a transition rule (it reads oldSelf): checked on update only
    rule(
        f"{effective_strategy('self')} == {effective_strategy('oldSelf')}",
        "schedulingStrategy cannot be changed; create a new service",
        field_path=".schedulingStrategy",
    ),
]


def service_spec_schema(shapes: Mapping[str, Shape]) -> Schema:
    spec = shape_schema(shapes, SERVICE_ROOT)
    spec["description"] = (
        "The ECS CreateService request, field for field (serviceName defaults to metadata.name),"
        " plus forceNewDeployment."
    )
    for member, (_, schema) in EXTENSIONS[SERVICE_ROOT].items():
        spec["properties"][member] = schema
    spec["x-kubernetes-validations"] = SERVICE_RULES
    return {k: spec[k] for k in ("description", *(k for k in spec if k != "description"))}


# status.stoppedTasks entries (operator/ecs_facade/views/service_tasks.py MAX_STOPPED_TASKS)
MAX_STOPPED_TASKS = 10


def service_status_schema(shapes: Mapping[str, Shape]) -> Schema:
    """What the operator reports: counts like describe-services, its deployments and events."""
    int32 = {"type": "integer", "format": "int32"}
    timestamp = {"type": "string", "format": "date-time"}
    deployment = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["PRIMARY", "ACTIVE", "INACTIVE"]},
            "taskDefinition": {"type": "string", "description": "ARN of the revision this deployment runs."},
            "desiredCount": int32,
            "runningCount": int32,
            "pendingCount": int32,
            "failedTasks": int32,
            "rolloutState": {"type": "string", "enum": list(shapes["DeploymentRolloutState"]["enum"])},
            "rolloutStateReason": {"type": "string"},
            "createdAt": timestamp,
            "updatedAt": timestamp,
        },
    }
    event = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "createdAt": timestamp, "message": {"type": "string"}},
    }
    task_status = {"type": "string", "enum": TASK_STATUSES}
    stopped_task = {
        "type": "object",
        "properties": {
            "taskArn": {"type": "string", "description": "The ARN of the task (its ID is the one the events name)."},
            "taskDefinitionArn": {"type": "string", "description": "The ARN of the task definition revision it ran."},
            "group": {"type": "string", "description": "service:<service name>."},
            "startedBy": {"type": "string", "description": "The deployment that started it (ecs-svc/...)."},
            "lastStatus": task_status,
            "desiredStatus": task_status,
            "stopCode": {"type": "string", "enum": list(shapes["TaskStopCode"]["enum"])},
            "stoppedReason": {"type": "string"},
            "healthStatus": {"type": "string", "enum": list(shapes["HealthStatus"]["enum"])},
            "createdAt": timestamp,
            "startedAt": timestamp,
            "stoppedAt": timestamp,
            "containers": {
                "type": "array",
                "maxItems": 10,
                "description": "Its containers, STOPPED, each with the exit code its process ended with, if seen.",
                "items": task_container_schema(shapes),
            },
        },
    }
    return {
        "type": "object",
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64"},
            "desiredCount": int32,
            "runningCount": {**int32, "description": "Tasks in the RUNNING state."},
            "pendingCount": {**int32, "description": "Tasks in the PENDING state."},
            "taskDefinition": {"type": "string", "description": "ARN of the task definition revision in use."},
            "deployments": {
                "type": "array",
                "maxItems": 20,
                "description": "The service's deployments, as describe-services shows them: PRIMARY is the newest.",
                "items": deployment,
            },
            "events": {
                "type": "array",
                "maxItems": 100,
                "description": "The service's most recent events, newest first.",
                "items": event,
            },
            "stoppedTasks": {
                "type": "array",
                "maxItems": MAX_STOPPED_TASKS,
                "description": "The service's recently stopped tasks, newest first, as describe-tasks shows them "
                "(kept for the stopped-task retention time, like ECS's hour).",
                "items": stopped_task,
            },
            "completedDeployment": {
                "type": "object",
                "description": "ecs-facade: the last deployment that COMPLETED, which the circuit breaker rolls back "
                "to (also once it has drained and deployments no longer lists it).",
                "properties": {"id": {"type": "string"}, "taskDefinition": {"type": "string"}},
            },
            "throttle": {
                "type": "object",
                "description": "ecs-facade: the service scheduler's throttle while tasks keep failing to start "
                "(no circuit breaker): launches are held until nextAttemptAt, with a delay that grows per attempt.",
                "properties": {
                    "deployment": {"type": "string"},
                    "attempts": int32,
                    "failedTasks": {
                        **int32,
                        "description": "the failed tasks already judged: the next round counts only "
                        "tasks that fail after them",
                    },
                    "nextAttemptAt": timestamp,
                },
            },
            "autoScaling": auto_scaling_status_schema(),
            "conditions": condition_list(),
        },
    }


def auto_scaling_status_schema() -> Schema:
    """status.autoScaling: describe-scalable-targets and describe-scaling-activities, from the HPA."""
    int32 = {"type": "integer", "format": "int32"}
    timestamp = {"type": "string", "format": "date-time"}
    hpa_condition = condition_list()["items"]
    return {
        "type": "object",
        "description": "ecs-facade: the service's auto scaling, as its HorizontalPodAutoscaler reports it.",
        "properties": {
            "minCapacity": int32,
            "maxCapacity": int32,
            "currentCapacity": {**int32, "description": "Tasks the HorizontalPodAutoscaler counted."},
            "desiredCapacity": {**int32, "description": "The count the policies ask for now."},
            "lastScaleTime": timestamp,
            "suspendedState": {
                "type": "object",
                "properties": {
                    k: {"type": "boolean"}
                    for k in ("dynamicScalingInSuspended", "dynamicScalingOutSuspended", "scheduledScalingSuspended")
                },
            },
            "policies": {
                "type": "array",
                "maxItems": MAX_SCALING_POLICIES,
                "items": {
                    "type": "object",
                    "properties": {
                        "policyName": {"type": "string"},
                        "policyType": {"type": "string", "enum": ["TargetTrackingScaling", "StepScaling"]},
                        "targetValue": {"type": "number", "description": "Target value, or the alarm's threshold."},
                        "currentValue": {"type": "number"},
                    },
                },
            },
            "lastScalingActivity": {
                "type": "object",
                "properties": {
                    "startTime": timestamp,
                    "description": {"type": "string"},
                    "cause": {"type": "string"},
                },
            },
            "conditions": {
                "type": "array",
                "description": "The HorizontalPodAutoscaler's AbleToScale, ScalingActive and ScalingLimited.",
                "maxItems": 10,
                "items": hpa_condition,
            },
        },
    }


# ------------------------------------------------------------------ ECSTask

STOPPED_IS_FINAL = "a STOPPED task cannot be started again: run a new task"
RUN_TASK_IS_FINAL = "ECS tasks cannot be changed after RunTask; only desiredStatus and reason can"


def unchanged(member: str) -> Schema:
    """A transition rule: spec.<member> keeps its value, and is neither added nor removed, on update."""
    return rule(
        f"has(self.{member}) == has(oldSelf.{member}) && (!has(self.{member}) || self.{member} == oldSelf.{member})",
        RUN_TASK_IS_FINAL,
        field_path=f".{member}",
    )


def task_spec_schema(shapes: Mapping[str, Shape]) -> Schema:
    """The RunTask request members (all fixed once the task runs) plus desiredStatus and reason."""
    spec = shape_schema(shapes, TASK_ROOT)
    spec["description"] = (
        "The ECS RunTask request for one task, field for field (no count: one object is one task;"
        " no clientToken), plus desiredStatus and reason, the only fields that can change afterwards."
    )
    for member, (_, schema) in EXTENSIONS[TASK_ROOT].items():
        spec["properties"][member] = schema
    # rules that read oldSelf are transition rules: checked on update only
    spec["x-kubernetes-validations"] = [
        rule(
            "!has(oldSelf.desiredStatus) || oldSelf.desiredStatus != 'STOPPED' || self.desiredStatus == 'STOPPED'",
            STOPPED_IS_FINAL,
            field_path=".desiredStatus",
        ),
        *(unchanged(member) for member in members(shapes, TASK_ROOT)),
    ]
    return {k: spec[k] for k in ("description", *(k for k in spec if k != "description"))}


def task_container_schema(shapes: Mapping[str, Shape]) -> Schema:
    """One container of a task, as describe-tasks shows it (ECSTask status, ECSService stoppedTasks)."""
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "image": {"type": "string"},
            "lastStatus": {"type": "string", "enum": TASK_STATUSES},
            "exitCode": {
                "type": "integer",
                "format": "int32",
                "description": "The container's exit code, once it stopped.",
            },
            "reason": {"type": "string", "description": "Why the container stopped or failed to start."},
            "healthStatus": {"type": "string", "enum": list(shapes["HealthStatus"]["enum"])},
        },
    }


def task_status_schema(shapes: Mapping[str, Shape]) -> Schema:
    """What the operator reports, like describe-tasks: states, stop code and reason, times, containers."""
    int32 = {"type": "integer", "format": "int32"}
    timestamp = {"type": "string", "format": "date-time"}
    task_status = {"type": "string", "enum": TASK_STATUSES}
    health = {"type": "string", "enum": list(shapes["HealthStatus"]["enum"])}
    container = task_container_schema(shapes)
    return {
        "type": "object",
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64"},
            "taskArn": {"type": "string", "description": "The ARN of the task."},
            "taskDefinitionArn": {"type": "string", "description": "The ARN of the task definition revision it runs."},
            "clusterArn": {"type": "string", "description": "The ARN of the cluster the task runs in."},
            "capacityProviderName": {
                "type": "string",
                "description": "The capacity provider the task was placed with.",
            },
            "lastStatus": {**task_status, "description": "The last known state of the task."},
            "desiredStatus": {**task_status, "description": "The state ECS moves the task to."},
            "stopCode": {
                "type": "string",
                "enum": list(shapes["TaskStopCode"]["enum"]),
                "description": "Why the task stopped; stoppedReason has the details.",
            },
            "stoppedReason": {"type": "string", "description": "Why the task stopped, in words."},
            "exitCode": {**int32, "description": "The exit code of the first essential container, once it stopped."},
            "healthStatus": {**health, "description": "The task's health, from its essential containers."},
            "group": {"type": "string", "description": "The task group of the task."},
            "startedBy": {"type": "string", "description": "The startedBy tag of the task."},
            "createdAt": {**timestamp, "description": "When the task was created (RunTask)."},
            "pullStartedAt": {**timestamp, "description": "When the first container image pull began."},
            "startedAt": {**timestamp, "description": "When the task moved to RUNNING."},
            "stoppingAt": {**timestamp, "description": "When the task moved to STOPPING."},
            "stoppedAt": {**timestamp, "description": "When the task moved to STOPPED."},
            "containers": {
                "type": "array",
                "maxItems": 10,
                "description": "The task's containers, as describe-tasks shows them.",
                "items": container,
            },
            "podName": {"type": "string", "description": "ecs-facade: the Kubernetes pod that runs the task."},
            "conditions": condition_list(),
        },
    }


# ECS task and container lifecycle states (describe-tasks lastStatus and desiredStatus)
TASK_STATUSES = [
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
]


# --------------------------------------------------------------- ECSCluster

CLUSTER_NAME_IS_FINAL = "clusterName cannot be changed; create a new cluster"
CLUSTER_RULES = [
    rule(
        "has(self.clusterName) == has(oldSelf.clusterName)"
        " && (!has(self.clusterName) || self.clusterName == oldSelf.clusterName)",
        CLUSTER_NAME_IS_FINAL,
        field_path=".clusterName",
    ),
    rule(
        "!has(self.defaultCapacityProviderStrategy) || self.defaultCapacityProviderStrategy.all(s,"
        " has(self.capacityProviders) && s.capacityProvider in self.capacityProviders)",
        "defaultCapacityProviderStrategy: every capacityProvider must be listed in capacityProviders",
        field_path=".defaultCapacityProviderStrategy",
    ),
    rule(
        "!has(self.defaultCapacityProviderStrategy) ||"
        " self.defaultCapacityProviderStrategy.filter(s, has(s.base) && s.base > 0).size() <= 1",
        "defaultCapacityProviderStrategy: only one capacity provider can have a base greater than 0",
        field_path=".defaultCapacityProviderStrategy",
    ),
    rule(
        "!has(self.capacityProviderNodeGroups) || self.capacityProviderNodeGroups.all(g,"
        " has(self.capacityProviders) && g.capacityProvider in self.capacityProviders)",
        "capacityProviderNodeGroups: every capacityProvider must be listed in capacityProviders",
        field_path=".capacityProviderNodeGroups",
    ),
]


def cluster_spec_schema(shapes: Mapping[str, Shape]) -> Schema:
    spec = shape_schema(shapes, CLUSTER_ROOT)
    spec["description"] = (
        "The ECS CreateCluster request, field for field (clusterName defaults to metadata.name), plus"
        " which nodes are its container instances and which namespaces may use it."
    )
    for member, (_, schema) in EXTENSIONS[CLUSTER_ROOT].items():
        spec["properties"][member] = schema
    spec["x-kubernetes-validations"] = CLUSTER_RULES
    return {k: spec[k] for k in ("description", *(k for k in spec if k != "description"))}


def cluster_status_schema(shapes: Mapping[str, Shape]) -> Schema:
    """What the operator reports, like describe-clusters, plus a summary of the container instances."""
    int32 = {"type": "integer", "format": "int32"}
    counts = {
        "registeredContainerInstancesCount": "Container instances (nodes) in the cluster.",
        "activeContainerInstancesCount": "ecs-facade: container instances in the ACTIVE state.",
        "drainingContainerInstancesCount": "ecs-facade: container instances in the DRAINING state.",
        "connectedContainerInstancesCount": "ecs-facade: container instances whose agent is connected (node Ready).",
        "runningTasksCount": "Tasks in the RUNNING state on the cluster's instances.",
        "pendingTasksCount": "Tasks in the PENDING state on the cluster's instances.",
        "activeServicesCount": "Services that name this cluster and are not being deleted.",
    }
    return {
        "type": "object",
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64"},
            "clusterArn": {"type": "string", "description": "The ARN of the cluster."},
            "clusterName": {"type": "string", "description": "The ECS name of the cluster."},
            "status": {
                "type": "string",
                "enum": ["ACTIVE", "PROVISIONING", "DEPROVISIONING", "FAILED", "INACTIVE"],
                "description": "ACTIVE; DEPROVISIONING while a deletion waits for services and tasks to go.",
            },
            **{name: {**int32, "description": text} for name, text in counts.items()},
            "conditions": condition_list(),
        },
    }


# ----------------------------------------------------------------- documents


def ready_columns() -> list[Schema]:
    return [
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {
            "name": "Message",
            "type": "string",
            "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
        },
    ]


AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def crd_document(
    kind: str,
    plural: str,
    short_names: list[str],
    description: str,
    subresources: Schema,
    columns: list[Schema],
    spec: Schema,
    status: Schema,
    scope: str = "Namespaced",
) -> Schema:
    """A v1alpha1 CRD of ecs.facade.dev in category `ecs`."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.ecs.facade.dev"},
        "spec": {
            "group": "ecs.facade.dev",
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": plural.removesuffix("s"),
                "shortNames": short_names,
                "categories": ["ecs"],
            },
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": subresources,
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def task_definition_crd(shapes: Mapping[str, Shape]) -> Schema:
    ready, message = ready_columns()
    return crd_document(
        "ECSTaskDefinition",
        "ecstaskdefinitions",
        ["ecstd"],
        "An Amazon ECS task definition (RegisterTaskDefinition request) run on Kubernetes.",
        {"status": {}},
        [
            {"name": "Family", "type": "string", "jsonPath": ".status.family"},
            {"name": "Revision", "type": "integer", "jsonPath": ".status.revision"},
            {"name": "Status", "type": "string", "jsonPath": ".status.status"},
            ready,
            message,
            AGE_COLUMN,
        ],
        spec_schema(shapes),
        status_schema(shapes),
    )


def service_crd(shapes: Mapping[str, Shape]) -> Schema:
    ready, message = ready_columns()
    return crd_document(
        "ECSService",
        "ecsservices",
        ["ecssvc"],
        "An Amazon ECS service (CreateService request) run on Kubernetes.",
        {
            "status": {},
            "scale": {"specReplicasPath": ".spec.desiredCount", "statusReplicasPath": ".status.runningCount"},
        },
        [
            {"name": "Desired", "type": "integer", "jsonPath": ".status.desiredCount"},
            {"name": "Running", "type": "integer", "jsonPath": ".status.runningCount"},
            {"name": "Pending", "type": "integer", "jsonPath": ".status.pendingCount"},
            {"name": "Task Definition", "type": "string", "jsonPath": ".spec.taskDefinition"},
            {
                "name": "Rollout",
                "type": "string",
                "jsonPath": '.status.deployments[?(@.status=="PRIMARY")].rolloutState',
            },
            ready,
            {"name": "Revision ARN", "type": "string", "priority": 1, "jsonPath": ".status.taskDefinition"},
            message,
            AGE_COLUMN,
        ],
        service_spec_schema(shapes),
        service_status_schema(shapes),
    )


def task_crd(shapes: Mapping[str, Shape]) -> Schema:
    return crd_document(
        "ECSTask",
        "ecstasks",
        ["ecstask"],
        "An Amazon ECS task (RunTask request, one task) run on Kubernetes.",
        {"status": {}},
        [
            {"name": "Task Definition", "type": "string", "jsonPath": ".spec.taskDefinition"},
            {"name": "Last Status", "type": "string", "jsonPath": ".status.lastStatus"},
            {"name": "Exit Code", "type": "integer", "jsonPath": ".status.exitCode"},
            {"name": "Started By", "type": "string", "jsonPath": ".spec.startedBy"},
            AGE_COLUMN,
        ],
        task_spec_schema(shapes),
        task_status_schema(shapes),
    )


def cluster_crd(shapes: Mapping[str, Shape]) -> Schema:
    ready, message = ready_columns()
    document = crd_document(
        "ECSCluster",
        "ecsclusters",
        ["ecscluster"],
        "An Amazon ECS cluster (CreateCluster request) whose container instances are Kubernetes nodes.",
        {"status": {}},
        [
            {"name": "Status", "type": "string", "jsonPath": ".status.status"},
            {"name": "Instances", "type": "integer", "jsonPath": ".status.registeredContainerInstancesCount"},
            {"name": "Services", "type": "integer", "jsonPath": ".status.activeServicesCount"},
            {"name": "Running", "type": "integer", "jsonPath": ".status.runningTasksCount"},
            {"name": "Pending", "type": "integer", "jsonPath": ".status.pendingTasksCount"},
            ready,
            {
                "name": "Draining",
                "type": "integer",
                "priority": 1,
                "jsonPath": ".status.drainingContainerInstancesCount",
            },
            message,
            AGE_COLUMN,
        ],
        cluster_spec_schema(shapes),
        cluster_status_schema(shapes),
        scope="Cluster",
    )
    # `kind: ECSCluster` with a name alone is a cluster, as `aws ecs create-cluster` with no options
    schema = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["default"] = {}
    del schema["required"]
    return document


class _Dumper(yaml.SafeDumper):
    """Writes shared sub-schemas out in full: anchors and aliases would hide them from readers."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_crd(document: Schema, source: str, about: str) -> str:
    """Text of one CRD file: the generated-file header, `about` as comment lines, the YAML."""
    header = (
        f"# Generated by hack/gen_crds.py from {source}.\n"
        "# DO NOT EDIT by hand: change hack/gen_crds.py and run `make generate`.\n"
        + "".join(f"# {line}\n" for line in about.splitlines())
    )
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True, default_flow_style=False)
    return header + body


TASK_DEFINITION_ABOUT = (
    "ECSTaskDefinition: the ECS RegisterTaskDefinition request, camelCase, field for field,\n"
    "or `aws ecs describe-task-definition` output pasted unchanged."
)
SERVICE_ABOUT = (
    "ECSService: the ECS CreateService request, camelCase, field for field, plus\n"
    "forceNewDeployment; serviceName defaults to metadata.name."
)
CLUSTER_ABOUT = (
    "ECSCluster (cluster-scoped): the ECS CreateCluster request, camelCase, field for field,\n"
    "plus instanceSelector, namespaceSelector and capacityProviderNodeGroups; nodes are its\n"
    "container instances."
)
TASK_ABOUT = (
    "ECSTask: the ECS RunTask request for one task, camelCase, field for field (no count,\n"
    "no clientToken), plus desiredStatus and reason; fixed once created, except those two."
)


# ----------------------------------------------------------------------- CLI


CHART = REPO / "charts" / "ecs-facade"
RBAC_RULES_PATH = CHART / "files" / "rbac-rules.yaml"


def render_rbac_rules() -> str:
    """The chart's RBAC rules, from the operator's own list (operator/ecs_facade/rbac.py)."""
    sys.path.insert(0, str(REPO / "operator"))
    from ecs_facade.rbac import all_rules

    header = (
        "# Generated by hack/gen_crds.py from operator/ecs_facade/rbac.py.\n"
        "# DO NOT EDIT by hand: change rbac.py and run `make generate`.\n"
    )
    return header + yaml.safe_dump(all_rules(), sort_keys=False, default_flow_style=None, width=120)


# The CRDs again, as package data of the operator: `ecs-facade render` and `convert` validate by them
# offline (ecs_facade.validation), wherever the package is installed.
PACKAGE_CRDS = REPO / "operator" / "ecs_facade" / "crds"


def generate() -> dict[Path, str]:
    """Every generated file and the text it must have: the models, the CRDs (in crds/ and, the
    same text, in the chart's crds/ and the package's), and the chart's RBAC rules."""
    shapes, source = load_model()
    crds = {
        CRD_PATH: render_crd(task_definition_crd(shapes), source, TASK_DEFINITION_ABOUT),
        SERVICE_CRD_PATH: render_crd(service_crd(shapes), source, SERVICE_ABOUT),
        TASK_CRD_PATH: render_crd(task_crd(shapes), source, TASK_ABOUT),
        CLUSTER_CRD_PATH: render_crd(cluster_crd(shapes), source, CLUSTER_ABOUT),
    }
    return {
        MODELS_PATH: render_models(shapes, source),
        **crds,
        **{CHART / "crds" / path.name: text for path, text in crds.items()},
        **{PACKAGE_CRDS / path.name: text for path, text in crds.items()},
        RBAC_RULES_PATH: render_rbac_rules(),
    }


def stale(files: Mapping[Path, str]) -> list[str]:
    """One message per committed file that differs from what the generator produces."""
    problems = []
    for path, text in files.items():
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        diff = list(
            difflib.unified_diff(
                current.splitlines(),
                text.splitlines(),
                f"{rel} (committed)",
                f"{rel} (generated)",
                lineterm="",
            )
        )
        shown = "\n".join(diff[:40]) + ("\n..." if len(diff) > 40 else "")
        version = botocore_version()
        message = (
            f"{rel} is stale: it is not what hack/gen_crds.py generates from botocore {version}."
            " Run `make generate` (or python hack/gen_crds.py) and commit the result."
        )
        committed = re.search(r"from botocore (\S+) ", current)
        if committed and committed.group(1) != version:
            message += (
                f" Note: it was generated from botocore {committed.group(1)}; a different botocore"
                " alone changes the output (new ECS fields and documentation)."
            )
        problems.append(f"{message}\n{shown}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        problems = stale(files)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
