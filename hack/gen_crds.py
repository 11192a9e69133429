#!/usr/bin/env python3
"""Generate the ECSTaskDefinition CRD and its pydantic models from botocore's ECS model.

botocore's service model is the source of truth for ECS field names, shapes, enums and
documentation, so both the API server's schema (crds/) and the operator's models
(operator/ecs_facade/model/generated.py) are derived from it instead of being written
by hand and drifting apart.  What botocore does not encode (limits ECS enforces on the
server, cross-field rules) is added here, in one place.

    python hack/gen_crds.py          write both files
    python hack/gen_crds.py --check  exit 1 if a committed file is not what this generates
"""

from __future__ import annotations

import argparse
import difflib
import html
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

ROOT = "RegisterTaskDefinitionRequest"
DESCRIBED = "TaskDefinition"  # the shape `describe-task-definition` returns

Shape = Mapping[str, Any]
Schema = dict[str, Any]

NAME_PATTERN = "^[A-Za-z0-9_-]{1,255}$"
OUTPUT_ONLY_DESCRIPTION = "Output-only field of describe-task-definition: accepted and ignored."

# Members that ECS rejects when absent although botocore does not mark them required.
EXTRA_REQUIRED: dict[str, tuple[str, ...]] = {
    "ContainerDefinition": ("name", "image"),
}

# Members botocore marks required that ecs-facade fills in itself: family defaults to
# the Kubernetes object's name.
NOT_REQUIRED: dict[str, tuple[str, ...]] = {
    ROOT: ("family",),
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
}

# Task-level cpu/memory: ECS JSON has strings ("1024", "1 vCPU"), YAML users write ints.
INT_OR_STRING: dict[tuple[str, str], str] = {
    (ROOT, "cpu"): (
        'Task-level CPU units: an integer (1024) or a string as ECS accepts it ("1024", "1 vCPU", '
        '"0.5 vcpu"). Required for Fargate; 1024 units are one vCPU.'
    ),
    (ROOT, "memory"): (
        'Task-level memory: an integer in MiB (2048) or a string as ECS accepts it ("2048", "2 GB", '
        '"2GB"). Required for Fargate; otherwise every container needs memory or memoryReservation.'
    ),
}

# Every array gets maxItems so that the API server can bound the cost of CEL rules.
# containerDefinitions: ECS allows 10 containers per task definition.
DEFAULT_MAX_ITEMS = 100
MAX_ITEMS: dict[tuple[str, str], int] = {
    (ROOT, "containerDefinitions"): 10,
    ("ContainerDefinition", "environment"): 1000,
    ("ContainerDefinition", "secrets"): 1000,
}

# Shapes botocore leaves undocumented.
CLASS_DOCS = {ROOT: "The ECS RegisterTaskDefinition request: the content of one task definition revision."}

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


def children(shape: Shape) -> Iterator[str]:
    """Names of the shapes a shape refers to, in botocore's (stable) member order."""
    if shape["type"] == "structure":
        for member in shape["members"].values():
            yield member["shape"]
    elif shape["type"] == "list":
        yield shape["member"]["shape"]
    elif shape["type"] == "map":
        yield shape["key"]["shape"]
        yield shape["value"]["shape"]


def structures_in_dependency_order(shapes: Mapping[str, Shape], root: str) -> list[str]:
    """Structures reachable from root, each after the ones it uses (post-order DFS)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for child in children(shapes[name]):
            visit(child)
        if shapes[name]["type"] == "structure":
            order.append(name)

    visit(root)
    return order


def required_members(shapes: Mapping[str, Shape], name: str) -> list[str]:
    shape = shapes[name]
    required = [*shape.get("required", []), *EXTRA_REQUIRED.get(name, ())]
    skip = NOT_REQUIRED.get(name, ())
    return [m for m in shape["members"] if m in required and m not in skip]


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
    lines = textwrap.wrap(text, width=106 - len(indent)) or ["(undocumented)"]
    if len(lines) == 1 and len(indent) + len(lines[0]) + 6 <= 110:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def render_models(shapes: Mapping[str, Shape], source: str) -> str:
    """Source of operator/ecs_facade/model/generated.py."""
    reserved = {n for n in dir(BaseModel) if not n.startswith("_")}
    body: list[str] = []
    uses_any = False
    for name in structures_in_dependency_order(shapes, ROOT):
        shape = shapes[name]
        body += ["", "", f"class {name}(GeneratedModel):"]
        text = CLASS_DOCS.get(name) or first_sentence(describe(shape.get("documentation")))
        body += docstring(text, "    ")
        body.append("")
        required = required_members(shapes, name)
        for member, ref in shape["members"].items():
            if member in reserved:
                raise SystemExit(f"{name}.{member} would shadow a pydantic BaseModel attribute")
            annotation = py_type(shapes, ref["shape"])
            uses_any |= "Any" in annotation
            if (name, member) in INT_OR_STRING:
                annotation = "str | int"
            line = f"    {member}: {annotation}" if member in required else f"    {member}: {annotation} | None = None"
            enum = shapes[ref["shape"]].get("enum")
            if enum:
                comment = f"  # {' | '.join(enum)}"
                line += comment if len(line) + len(comment) <= 110 else f"  # enum {ref['shape']}"
            body.append(line)
    output_only = sorted(output_only_members(shapes))
    header = [
        f"# Generated by hack/gen_crds.py from {source}.",
        "# DO NOT EDIT by hand: change hack/gen_crds.py and run `make generate`.",
        '"""Pydantic models of the ECS RegisterTaskDefinition request, shape for shape as in botocore.',
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
    if key in INT_OR_STRING:
        return {"x-kubernetes-int-or-string": True, "description": INT_OR_STRING[key]}
    schema = shape_schema(shapes, ref["shape"], max_items=MAX_ITEMS.get(key, DEFAULT_MAX_ITEMS))
    if text:
        schema = {"description": text, **schema}
    schema.update(MEMBER_SCHEMA.get(key, {}))
    return schema


def shape_schema(shapes: Mapping[str, Shape], name: str, max_items: int = DEFAULT_MAX_ITEMS) -> Schema:
    shape = shapes[name]
    kind = shape["type"]
    if kind == "structure":
        schema: Schema = {"type": "object"}
        required = required_members(shapes, name)
        if required:
            schema["required"] = required
        if shape.get("union"):
            schema["maxProperties"] = 1
        schema["properties"] = {m: openapi(shapes, name, m, ref) for m, ref in shape["members"].items()}
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
BODY_RULES = [
    rule(
        "has(self.memory) || !has(self.containerDefinitions)"
        " || self.containerDefinitions.all(c, has(c.memory) || has(c.memoryReservation))",
        "containerDefinitions: every container needs memory or memoryReservation unless the task-level memory is set",
        field_path=".containerDefinitions",
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


def status_schema(shapes: Mapping[str, Shape]) -> Schema:
    condition = {
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
    }
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
            "conditions": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": condition,
            },
        },
    }


def crd(shapes: Mapping[str, Shape]) -> Schema:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "ecstaskdefinitions.ecs.facade.dev"},
        "spec": {
            "group": "ecs.facade.dev",
            "scope": "Namespaced",
            "names": {
                "kind": "ECSTaskDefinition",
                "listKind": "ECSTaskDefinitionList",
                "plural": "ecstaskdefinitions",
                "singular": "ecstaskdefinition",
                "shortNames": ["ecstd"],
                "categories": ["ecs"],
            },
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Family", "type": "string", "jsonPath": ".status.family"},
                        {"name": "Revision", "type": "integer", "jsonPath": ".status.revision"},
                        {"name": "Status", "type": "string", "jsonPath": ".status.status"},
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {
                            "name": "Message",
                            "type": "string",
                            "priority": 1,
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "An Amazon ECS task definition (RegisterTaskDefinition request)"
                            " run on Kubernetes.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(shapes),
                                "status": status_schema(shapes),
                            },
                        }
                    },
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Writes shared sub-schemas out in full: anchors and aliases would hide them from readers."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_crd(shapes: Mapping[str, Shape], source: str) -> str:
    """Text of crds/ecs.facade.dev_ecstaskdefinitions.yaml."""
    header = (
        f"# Generated by hack/gen_crds.py from {source}.\n"
        "# DO NOT EDIT by hand: change hack/gen_crds.py and run `make generate`.\n"
        "# ECSTaskDefinition: the ECS RegisterTaskDefinition request, camelCase, field for field,\n"
        "# or `aws ecs describe-task-definition` output pasted unchanged.\n"
    )
    body = yaml.dump(
        crd(shapes), Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True, default_flow_style=False
    )
    return header + body


# ----------------------------------------------------------------------- CLI


def generate() -> dict[Path, str]:
    """Every generated file and the text it must have."""
    shapes, source = load_model()
    return {MODELS_PATH: render_models(shapes, source), CRD_PATH: render_crd(shapes, source)}


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
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
