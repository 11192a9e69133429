"""Fuzzing the ECS API: hypothesis strategies built from the ECS model's input shapes
(operator/ecs_facade/ecsapi/models/ecs.json, read through ecsapi/model.py).

For each action the Dispatcher implements, a request that is well-formed per the model (its
required members, members' types, enums, lengths and ranges), or that request mutated: a member
of the wrong type, null, a required member missing, a huge string, unusual unicode, deep nesting,
unknown members, or the whole request sent with a wrong X-Amz-Target, content type or as bad JSON.

Shared by the unit test (tests/unit/test_ecsapi_fuzz.py: a few hundred cases through the real
aiohttp app over a fake Store) and the end-to-end run (tests/e2e/test_ecs_api_fuzz.py: thousands
against the `ecs-facade api` process on the local control plane). The property both check:
every answer is a 2xx, or a 4xx whose `__type` is an error the ECS model declares for the action
(or one of the protocol's refusals, docs/ecs-api.md), never a 5xx.
"""

from __future__ import annotations

import functools
import http.client
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import strategies as st

from ecs_facade.ecsapi.model import ServiceModel
from ecs_facade.ecsapi.protocol import CONTENT_TYPE
from ecs_facade.ecsapi.validate import INT32, INT64

# What the protocol answers before an action runs (docs/ecs-api.md, "Refusals before an action runs").
PROTOCOL_ERRORS = frozenset(
    {
        "UnknownOperationException",
        "UnsupportedMediaTypeException",
        "RequestEntityTooLargeException",
        "SerializationException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
    }
)
# Names drawn for string members, so that requests often name what exists (the cluster
# "default", the fuzz's own families and services) and not only random text.
NAMES = ["default", "fuzz", "fuzz-web", "web", "app", "Fuzz_Svc", "fuzz:1", "fuzz-web:1"]
ARN_PREFIX = "arn:aws:ecs:us-east-1:123456789012"
ARNS = [
    f"{ARN_PREFIX}:cluster/default",
    f"{ARN_PREFIX}:task-definition/fuzz-web:1",
    f"{ARN_PREFIX}:service/default/fuzz",
]
# Members whose values name things: half of the time one of these, so that requests find
# what earlier ones created (the cluster, the family, the service) and reach the actions' work.
HINTS: dict[str, list[str]] = {
    "cluster": ["default", "fuzz", f"{ARN_PREFIX}:cluster/default"],
    "clusters": ["default", "fuzz", f"{ARN_PREFIX}:cluster/fuzz"],
    "clusterName": ["default", "fuzz"],
    "serviceName": ["fuzz-svc", "fuzz", "Fuzz_Svc", "fuzz-svc-2", "fuzz-svc-3"],
    "service": ["fuzz-svc", "fuzz", f"{ARN_PREFIX}:service/default/fuzz-svc"],
    "services": ["fuzz-svc", "fuzz", "Fuzz_Svc", f"{ARN_PREFIX}:service/default/fuzz-svc"],
    "taskDefinition": ["fuzz-web", "fuzz-web:1", "fuzz-web:2", f"{ARN_PREFIX}:task-definition/fuzz-web:1"],
    "family": ["fuzz-web", "fuzz"],
    "familyPrefix": ["fuzz", "fuzz-web"],
    "image": ["nginx:1.27", "busybox"],
}
# Values of every JSON type, for a member of the wrong type.
WRONG_VALUES: list[Any] = ["x", "", 0, -1, 1.5, 2**40, True, False, [], ["x"], [1, None], {}, {"a": 1}, [{}]]
UNICODE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),  # lone surrogates: raw-bytes cases below
    min_size=1,
    max_size=40,
)
NASTY_TEXT = st.sampled_from(
    [
        "\x00",
        "\u202e",
        "💥" * 20,
        "a\nb",
        "../../etc",
        "${X}",
        "-1",
        "NaN",
        "null",
        "\uff57\uff45\uff42",
        "\ufeff",
        "é" * 300,
    ]
)
MUTATIONS = [
    "wrong-type",
    "null",
    "missing-required",
    "drop-member",
    "huge-string",
    "unicode",
    "deep",
    "unknown-member",
    "bad-json",
    "root-type",
]
_DEEP = "\x00DEEP\x00"  # a placeholder replaced by nested lists in the encoded body (orjson nests at most 255)
_DEEP_JSON = b'"\\u0000DEEP\\u0000"'


@dataclass(frozen=True)
class Case:
    """One request: `action` is the action the body was made for, `kind` how it was made
    ("valid", "wrong-type", "bad-json", ...); target and content type as sent."""

    action: str
    kind: str
    target: str | None
    body: bytes
    content_type: str = CONTENT_TYPE

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"...(%d bytes)" % len(self.body)
        return f"Case({self.action}, {self.kind}, target={self.target!r}, type={self.content_type!r}, body={body!r})"


@dataclass(frozen=True)
class Limits:
    """How large well-formed values get: the e2e run keeps counts small (a desiredCount of 2**31
    would make the local cluster create pods for hours); the unit run takes the model's ranges."""

    max_int: int = INT32[1]
    max_list: int = 3
    max_string: int = 40
    max_depth: int = 5


UNIT = Limits()
TAME = Limits(max_int=3, max_list=2, max_string=30, max_depth=4)


def _bounded_int(shape: Mapping[str, Any], bits: tuple[int, int], limits: Limits) -> st.SearchStrategy[int]:
    low = max(int(shape.get("min", bits[0])), bits[0])
    high = min(int(shape.get("max", bits[1])), bits[1])
    if limits.max_int < high:
        high = max(low, limits.max_int)
    edges = [v for v in (low, high, 0, 1) if low <= v <= high]
    return st.one_of(st.integers(low, min(high, low + 10)), st.sampled_from(edges), st.integers(low, high))


def _string(shape: Mapping[str, Any], limits: Limits) -> st.SearchStrategy[str]:
    if "enum" in shape:
        return st.sampled_from(list(shape["enum"]))
    low = int(shape.get("min", 0))
    high = min(int(shape.get("max", limits.max_string)), max(low, limits.max_string))
    fits = [n for n in NAMES + ARNS if low <= len(n) <= high]
    options = [st.text(min_size=low, max_size=high)]
    if fits:
        options.insert(0, st.sampled_from(fits))
    return st.one_of(*options)


class Strategies:
    """Well-formed values of a model's shapes, made once per (shape, depth)."""

    def __init__(self, model: ServiceModel, limits: Limits = UNIT) -> None:
        self.model = model
        self.limits = limits
        self.value = functools.cache(self._value)

    def _value(self, name: str, depth: int) -> st.SearchStrategy[Any]:
        shape = self.model.shapes[name]
        kind = shape["type"]
        if shape.get("document"):
            return st.recursive(
                st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
                lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
                max_leaves=4,
            )
        if kind == "structure":
            members = shape.get("members", {})
            required = [m for m in shape.get("required", ()) if m in members]
            deeper = depth + 1
            if depth >= self.limits.max_depth:  # deep enough: what the shape requires, nothing more
                optional: dict[str, st.SearchStrategy[Any]] = {}
            else:
                optional = {
                    m: st.deferred(self._lazy(members[m]["shape"], deeper, m)) for m in members if m not in required
                }
            fixed = {m: st.deferred(self._lazy(members[m]["shape"], deeper, m)) for m in required}
            made = st.fixed_dictionaries(fixed, optional=optional)
            if shape.get("union") and optional:
                made = st.sampled_from(sorted(optional)).flatmap(
                    lambda m: st.fixed_dictionaries({m: st.deferred(self._lazy(members[m]["shape"], deeper))})
                )
            return made
        if kind == "list":
            low = int(shape.get("min", 0))
            high = int(shape.get("max", self.limits.max_list))
            high = max(low, min(high, self.limits.max_list if depth < self.limits.max_depth else low))
            return st.lists(st.deferred(self._lazy(shape["member"]["shape"], depth + 1)), min_size=low, max_size=high)
        if kind == "map":
            high = max(int(shape.get("min", 0)), min(int(shape.get("max", 2)), 2))
            return st.dictionaries(
                self.value(shape["key"]["shape"], depth + 1),
                st.deferred(self._lazy(shape["value"]["shape"], depth + 1)),
                min_size=int(shape.get("min", 0)),
                max_size=high,
            )
        if kind == "string":
            return _string(shape, self.limits)
        if kind == "integer":
            return _bounded_int(shape, INT32, self.limits)
        if kind == "long":
            return _bounded_int(shape, INT64, self.limits)
        if kind in ("double", "float"):
            floor: float | None = shape.get("min")
            ceiling: float | None = shape.get("max")
            if ceiling is None or ceiling > self.limits.max_int:
                ceiling = max(floor or 0, self.limits.max_int)
            return st.floats(floor, ceiling, allow_nan=False, allow_infinity=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "timestamp":
            return st.floats(0, 4_102_444_800, allow_nan=False)
        return st.sampled_from(["", "aGVsbG8="])  # blob: base64

    def _lazy(self, name: str, depth: int, member: str = "") -> Callable[[], st.SearchStrategy[Any]]:
        hints = HINTS.get(member)
        shape = self.model.shapes[name]
        if hints and shape["type"] == "string" and "enum" not in shape:
            return lambda: st.sampled_from(hints) | self.value(name, depth)
        if hints and shape["type"] == "list" and self.model.shapes[shape["member"]["shape"]]["type"] == "string":
            return lambda: st.lists(st.sampled_from(hints), min_size=1, max_size=3) | self.value(name, depth)
        return lambda: self.value(name, depth)

    def request(self, action: str) -> st.SearchStrategy[dict[str, Any]]:
        """Drawn from the model, or (for the actions that create) half of the time a request
        ECS would accept, so that the fuzz creates objects for the other actions to find."""
        shape = self.model.operations[action].input
        if shape is None:
            return st.just({})
        drawn: st.SearchStrategy[dict[str, Any]] = self.value(shape, 0)
        plausible = self.plausible(action)
        return drawn if plausible is None else plausible | drawn

    def plausible(self, action: str) -> st.SearchStrategy[dict[str, Any]] | None:
        count = st.integers(0, min(self.limits.max_int, 3))
        if action == "RegisterTaskDefinition":
            container = st.fixed_dictionaries(
                {"name": st.sampled_from(["app", "web"]), "image": st.sampled_from(HINTS["image"])},
                optional={
                    "memory": st.sampled_from([128, 256]),
                    "cpu": st.sampled_from([0, 128]),
                    "essential": st.just(True),
                    "environment": st.lists(
                        st.fixed_dictionaries({"name": st.sampled_from(["A", "B"]), "value": UNICODE}), max_size=2
                    ),
                    "command": st.lists(UNICODE, max_size=2),
                },
            )
            return st.fixed_dictionaries(
                {
                    "family": st.sampled_from(HINTS["family"]),
                    "containerDefinitions": st.lists(container, min_size=1, max_size=1),
                },
                optional={
                    "cpu": st.sampled_from(["256", "512"]),
                    "memory": st.sampled_from(["512", "1024"]),
                    "networkMode": st.sampled_from(["awsvpc", "bridge"]),
                    "tags": st.lists(
                        st.fixed_dictionaries({"key": st.sampled_from(["team", "env"]), "value": UNICODE}), max_size=2
                    ),
                },
            )
        if action == "CreateCluster":
            return st.fixed_dictionaries({}, optional={"clusterName": st.sampled_from(HINTS["clusterName"])})
        if action in ("CreateService", "UpdateService"):
            name = "serviceName" if action == "CreateService" else "service"
            return st.fixed_dictionaries(
                {name: st.sampled_from(HINTS[name]), "taskDefinition": st.sampled_from(HINTS["taskDefinition"])},
                optional={"cluster": st.sampled_from(HINTS["cluster"]), "desiredCount": count},
            )
        if action == "RunTask":
            return st.fixed_dictionaries(
                {"taskDefinition": st.sampled_from(HINTS["taskDefinition"])},
                optional={"cluster": st.sampled_from(HINTS["cluster"]), "count": st.integers(1, 2)},
            )
        return None

    def target(self, action: str) -> str:
        return f"{self.model.target_prefix}.{action}"


# --- mutations


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member and item of a decoded JSON value, as key/index paths (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(paths(item, (*prefix, index)))
    return found


def replaced(value: Any, path: Sequence[Any], new: Any) -> Any:
    """A copy of `value` with the member at `path` set to `new`."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new) if rest else new}
    items = list(value)
    items[head] = replaced(items[head], rest, new)
    return items


def _at(value: Any, path: Sequence[Any]) -> Any:
    for step in path:
        value = value[step]
    return value


def removed(value: Any, path: Sequence[Any]) -> Any:
    head, rest = path[0], path[1:]
    if rest:
        return replaced(value, [head], removed(value[head], rest))
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != head}
    return [v for i, v in enumerate(value) if i != head]


def encode(request: Any, deep: int = 0) -> bytes:
    body = orjson.dumps(request)
    if deep:
        body = body.replace(_DEEP_JSON, b"[" * deep + b"]" * deep, 1)
    return body


@st.composite
def mutated(draw: st.DrawFn, request: dict[str, Any], model: ServiceModel, action: str, kind: str) -> tuple[str, bytes]:
    """(how, body): the well-formed `request` changed in one way the model does not allow or
    a server might not expect."""
    where = paths(request)
    input_shape = model.operations[action].input
    shape = model.shapes[input_shape] if input_shape else {}
    required = [m for m in shape.get("required", ()) if m in request]
    if (kind == "drop-member" and not where) or (kind == "missing-required" and not required):
        kind = "unknown-member"
    # a member anywhere, or a new top-level one when the request is empty
    path: tuple[Any, ...] = draw(st.sampled_from(where)) if where else (draw(st.sampled_from(["cluster", "x"])),)
    if kind == "wrong-type":
        return kind, encode(replaced(request, path, draw(st.sampled_from(WRONG_VALUES))))
    if kind == "null":
        return kind, encode(replaced(request, path, None))
    if kind == "missing-required":
        return kind, encode(removed(request, [draw(st.sampled_from(required))]))
    if kind == "drop-member":
        return kind, encode(removed(request, path))
    if kind == "huge-string":
        size = draw(st.sampled_from([1_000, 70_000, 900_000, 1_100_000]))  # the last is over the body limit
        return kind, encode(replaced(request, path, "x" * size))
    if kind == "unicode":
        return kind, encode(replaced(request, path, draw(st.one_of(UNICODE, NASTY_TEXT))))
    if kind == "deep":
        return kind, encode(replaced(request, path, _DEEP), deep=draw(st.sampled_from([20, 200, 2_000, 50_000])))
    if kind == "unknown-member":  # in the request or in one of its objects
        objects = [()] + [p for p in where if isinstance(_at(request, p), dict)]
        at = draw(st.sampled_from(objects))
        key = draw(st.sampled_from(["x", "Cluster", "__type", "serviceName ", "💥", ""]))
        return kind, encode(replaced(request, at, {**_at(request, at), key: draw(st.sampled_from(WRONG_VALUES))}))
    if kind == "root-type":
        return kind, orjson.dumps(draw(st.sampled_from([[], [request], "x", 1, None, True])))
    body = encode(request)
    broken = draw(
        st.sampled_from(
            [
                body[: max(1, len(body) // 2)],
                body + b"}",
                body + b" trailing",
                b"\xff\xfe" + body,
                body.replace(b"{", b"{\x00", 1),
                b'{"cluster": "\\ud800"}',
                b'{"cluster": NaN}',
                b'{"a": 1, "a": 2}',
                b"{" * 10_000,
                b"",
                b"   ",
            ]
        )
    )
    return "bad-json", broken


@st.composite
def cases(draw: st.DrawFn, strategies: Strategies, actions: Sequence[str], mutate_share: float = 0.6) -> Case:
    """A request for one of `actions`: well-formed, mutated, or sent to the wrong place."""
    model = strategies.model
    # drawn before the request: a large request can use up hypothesis's budget, after which
    # every draw is the simplest value (0), which would make most cases wrong-target ones
    roll = draw(st.integers(0, 99))  # percent (hypothesis's floats favour 0.0)
    how = draw(st.sampled_from(MUTATIONS))
    action = draw(st.sampled_from(list(actions)))
    request = draw(strategies.request(action))
    target = strategies.target(action)
    if roll >= mutate_share * 100:
        return Case(action, "valid", target, encode(request))
    if roll < 8:  # the wrong X-Amz-Target
        other = draw(
            st.sampled_from(
                [
                    None,
                    "",
                    action,
                    f"{model.target_prefix}.",
                    f"{model.target_prefix}.{action.lower()}",
                    f"{model.target_prefix}.{action}.x",
                    f"{model.target_prefix}.NoSuchAction",
                    f"AnyScaleFrontendService.{action}",
                    f"AmazonEC2ContainerServiceV20141112.{action}",
                    "💥" * 300,
                ]
            )
            | st.sampled_from(sorted(model.operations)).map(strategies.target)
        )
        return Case(action, "wrong-target", other, encode(request))
    if roll < 10:
        content_type = draw(st.sampled_from(["text/plain", "application/xml", "multipart/form-data", ""]))
        return Case(action, "content-type", target, encode(request), content_type)
    kind, body = draw(mutated(request, model, action, how))
    return Case(action, kind, target, body)


# --- sending and judging


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def error(self) -> str | None:
        try:
            decoded = json.loads(self.body)
        except ValueError:
            return None
        return decoded.get("__type") if isinstance(decoded, dict) else None


Signer = Callable[[Case, dict[str, str]], dict[str, str]]


def send(connection: http.client.HTTPConnection, case: Case, sign: Signer | None = None) -> Answer:
    """POST the case on a kept-alive connection (signed by `sign` when given)."""
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    if case.target is not None:
        headers["X-Amz-Target"] = case.target
    if sign is not None:
        headers = sign(case, headers)
    # UTF-8 on the wire (http.client would refuse what latin-1 cannot encode, half-way through a request)
    connection.request("POST", "/", body=case.body, headers={k: v.encode() for k, v in headers.items()})
    response = connection.getresponse()
    body = response.read()
    if response.getheader("Connection", "").lower() == "close":
        connection.close()
    return Answer(response.status, body)


def allowed_errors(model: ServiceModel, action: str) -> frozenset[str]:
    """The names a client of `action` may be answered: the action's modelled errors, the
    model's validation error, the not-implemented answer, and the protocol's refusals (a
    wrong target may name any action, so every modelled exception is allowed for it)."""
    names = set(model.operations[action].errors) | {model.validation_error, "UnsupportedFeatureException"}
    return frozenset(names | PROTOCOL_ERRORS)


def problem(model: ServiceModel, case: Case, answer: Answer) -> str | None:
    """What is wrong with `answer` to `case`, or None: a 5xx, a 4xx without an error name, or
    with a name the client of that action cannot expect."""
    if answer.status >= 500:
        return f"{answer.status} {answer.body[:500]!r}"
    if answer.status < 300:
        return None
    name = answer.error
    if name is None:
        return f"{answer.status} without an error name: {answer.body[:200]!r}"
    exceptions = {n for n, s in model.shapes.items() if s.get("exception")}
    allowed = allowed_errors(model, case.action)
    if case.kind == "wrong-target":
        allowed = allowed | exceptions
    if name not in allowed:
        return f"{answer.status} {name} is not an error of {case.action}: {answer.body[:300]!r}"
    return None


# --- what the fuzz created, and what it left


@dataclass
class Ledger:
    """The objects 2xx answers created (ECS names), and the answers counted by status, to
    compare with what exists after the run: nothing may exist that no 2xx answer created."""

    clusters: set[str] = field(default_factory=set)
    families: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    tasks: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)

    def record(self, case: Case, answer: Answer) -> None:
        self.statuses[answer.status] += 1
        self.kinds[case.kind] += 1
        if not 200 <= answer.status < 300:
            return
        body = json.loads(answer.body)
        action = (case.target or "").rpartition(".")[2]  # what ran, whatever the body was made for
        self.succeeded[action] += 1
        if action == "CreateCluster":
            self.clusters.add(body["cluster"]["clusterName"])
        elif action == "RegisterTaskDefinition":
            self.families.add(body["taskDefinition"]["family"])
        elif action == "CreateService":
            self.services.add(body["service"]["serviceName"])
        elif action == "RunTask":
            self.tasks.update(t["taskArn"].rpartition("/")[2] for t in body.get("tasks", ()))


def _ready(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), None)


def leftovers(
    ledger: Ledger,
    clusters: Sequence[Mapping[str, Any]],
    task_definitions: Sequence[Mapping[str, Any]],
    revisions: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
    ecs_tasks: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    """Every custom resource the run left that no 2xx answer created, or that is not whole: a
    task definition family the operator refused (a refused registration must leave no spec
    behind) or with no revision, a service the operator has not described (no status)."""
    found: list[str] = []
    for cluster in clusters:
        name = str((cluster.get("spec") or {}).get("clusterName") or cluster["metadata"]["name"])
        if name not in ledger.clusters:
            found.append(f"ECSCluster {cluster['metadata']['name']} ({name}): no 2xx CreateCluster created it")
    owners = {
        ref.get("uid")
        for revision in revisions
        for ref in (revision.get("metadata") or {}).get("ownerReferences") or ()
        if ref.get("kind") == "ECSTaskDefinition"
    }
    for td in task_definitions:
        meta, spec = td["metadata"], td.get("spec") or {}
        family = str(spec.get("family") or meta["name"])
        where = f"ECSTaskDefinition {meta.get('namespace')}/{meta['name']} ({family})"
        if family not in ledger.families:
            found.append(f"{where}: no 2xx RegisterTaskDefinition created it")
        ready = _ready(td)
        if ready is not None and ready.get("status") == "False" and ready.get("reason") == "InvalidSpec":
            found.append(f"{where}: its spec is one the operator refused: {str(ready.get('message'))[:200]}")
        if meta.get("uid") not in owners:
            found.append(f"{where}: no revision registered")
    for service in services:
        meta, spec = service["metadata"], service.get("spec") or {}
        name = str(spec.get("serviceName") or meta["name"])
        where = f"ECSService {meta.get('namespace')}/{meta['name']} ({name})"
        if name not in ledger.services:
            found.append(f"{where}: no 2xx CreateService created it")
        if not service.get("status"):
            found.append(f"{where}: no status (the operator has not handled it)")
    for task in ecs_tasks:  # a task's id: its status's taskArn, or its uid (ecsapi/tasks.py)
        meta = task["metadata"]
        ids = {
            str((task.get("status") or {}).get("taskArn") or "").rpartition("/")[2],
            str(meta.get("uid", "")).replace("-", ""),
        }
        if not ids & ledger.tasks:
            found.append(f"ECSTask {meta.get('namespace')}/{meta['name']}: no 2xx RunTask created it")
    return found
