"""The task definition actions, with the controller's registration played by ``_controller``
(as controllers/taskdefinition.py registers: a ControllerRevision per distinct content)."""

import copy
import json
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.validate import ParamValidator  # type: ignore[import-untyped]

from ecs_facade.api import ANNOTATION_CONTENT_HASH, ANNOTATION_REGISTERED_AT
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import scope
from ecs_facade.ecsapi import taskdefinitions as tds
from ecs_facade.ecsapi.errors import EcsError
from ecs_facade.model.taskdefinition import OUTPUT_ONLY_KEYS, content_hash, normalize_task_definition

ARNS = Arns("us-east-1", "123456789012")
CORPUS = Path(__file__).parents[1] / "corpus" / "valid"
_MODEL = botocore.session.get_session().get_service_model("ecs")


def _model_errors(operation: str, params: dict[str, Any]) -> str:
    """What the ECS API would refuse in ``params`` (the server validates by the same model)."""
    report = ParamValidator().validate(params, _MODEL.operation_model(operation).input_shape)
    return report.generate_report() if report.has_errors() else ""


class Store:
    """The API server's ECSTaskDefinitions and ControllerRevisions of one namespace."""

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []
        self.revisions: list[dict[str, Any]] = []
        self.clock = 1_767_225_600  # 2026-01-01T00:00:00Z
        self.controller_runs = True

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        name = manifest["metadata"]["name"]
        existing = next((o for o in self.objects if o["metadata"]["name"] == name), None)
        if existing is None:
            existing = {**copy.deepcopy(manifest), "status": {}}
            existing["metadata"].update(uid=f"uid-{name}", resourceVersion="1", generation=1)
            self.objects.append(existing)
        elif existing["spec"] != manifest["spec"]:
            existing["spec"] = copy.deepcopy(manifest["spec"])
            existing["metadata"]["resourceVersion"] = str(int(existing["metadata"]["resourceVersion"]) + 1)
            existing["metadata"]["generation"] += 1
        if self.controller_runs:
            self._controller(existing)
        return existing

    def register(self, request: dict[str, Any], namespace: str = "team-a") -> dict[str, Any]:
        assert _model_errors("RegisterTaskDefinition", request) == ""
        td = self.apply(tds.register_task_definition(request, namespace, self.objects))
        answer = tds.registered(request, td, self.revisions, ARNS)
        assert answer is not None
        return answer

    def _controller(self, td: dict[str, Any]) -> None:
        meta = td["metadata"]
        request = normalize_task_definition(td["spec"], meta["name"])
        digest = content_hash(request)
        mine = tds.revisions_of(td, self.revisions)
        td["status"]["observedGeneration"] = meta["generation"]
        if mine and mine[-1].content_hash == digest:
            return
        number = mine[-1].revision + 1 if mine else 1
        self.clock += 60
        self.revisions.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {
                    "name": f"{meta['name']}-{number}",
                    "namespace": meta["namespace"],
                    "annotations": {
                        ANNOTATION_CONTENT_HASH: digest,
                        ANNOTATION_REGISTERED_AT: _iso(self.clock),
                    },
                    "ownerReferences": [{"kind": "ECSTaskDefinition", "name": meta["name"], "uid": meta["uid"]}],
                },
                "revision": number,
                "data": {"taskDefinition": request},
            }
        )


def _iso(epoch: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


WEB: dict[str, Any] = {
    "family": "web",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "0.5 vCPU",
    "memory": "1 GB",
    "containerDefinitions": [
        {
            "name": "nginx",
            "image": "nginx:1.27",
            "essential": True,
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
        }
    ],
    "tags": [{"key": "team", "value": "web"}],
}


def test_register_creates_the_family_object() -> None:
    manifest = tds.register_task_definition(WEB, "team-a", [])
    assert manifest["apiVersion"] == "ecs.facade.dev/v1alpha1" and manifest["kind"] == "ECSTaskDefinition"
    assert manifest["metadata"] == {"name": "web", "namespace": "team-a"}
    assert manifest["spec"] == WEB


def test_register_names_objects_for_families_kubernetes_cannot_name() -> None:
    manifest = tds.register_task_definition({**WEB, "family": "Web_API"}, "team-a", [])
    assert manifest["metadata"]["name"] == scope.kubernetes_name("Web_API") != "web-api"
    assert manifest["spec"]["family"] == "Web_API"


@pytest.mark.parametrize("family", ["", "web/api", "a b", "x" * 256])
def test_register_refuses_families_ecs_refuses(family: str) -> None:
    with pytest.raises(EcsError) as caught:
        tds.register_task_definition({**WEB, "family": family}, "team-a", [])
    assert caught.value.name == "InvalidParameterException" and "family" in caught.value.message


def test_register_answer_field_by_field() -> None:
    store = Store()
    answer = store.register(WEB)
    described = answer["taskDefinition"]
    assert answer["tags"] == [{"key": "team", "value": "web"}]
    assert described == {
        "family": "web",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",  # as ECS gives them: units and MiB
        "memory": "1024",
        "containerDefinitions": WEB["containerDefinitions"],
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        "revision": 1,
        "status": "ACTIVE",
        "compatibilities": ["EC2", "FARGATE"],
        "registeredAt": 1_767_225_660.0,
    }


def test_a_new_content_is_the_next_revision_and_keeps_deregistrations() -> None:
    store = Store()
    store.register(WEB)
    store.objects[0]["spec"]["deregisteredRevisions"] = [1]
    changed = copy.deepcopy(WEB)
    changed["containerDefinitions"][0]["image"] = "nginx:1.28"
    manifest = tds.register_task_definition(changed, "team-a", store.objects)
    assert manifest["metadata"] == {"name": "web", "namespace": "team-a", "resourceVersion": "1"}
    assert manifest["spec"]["deregisteredRevisions"] == [1]
    td = store.apply(manifest)
    answer = tds.registered(changed, td, store.revisions, ARNS)
    assert answer is not None and answer["taskDefinition"]["revision"] == 2
    assert answer["taskDefinition"]["status"] == "ACTIVE"


def test_registered_is_none_until_the_controller_registered() -> None:
    td = {"metadata": {"name": "web", "namespace": "team-a", "uid": "u"}, "spec": WEB}
    assert tds.registered(WEB, td, [], ARNS) is None


def test_registered_waits_for_the_controller_to_see_the_generation() -> None:
    store = Store()
    store.register(WEB)
    store.controller_runs = False
    changed = copy.deepcopy(WEB)
    changed["containerDefinitions"][0]["image"] = "nginx:1.28"
    td = store.apply(tds.register_task_definition(changed, "team-a", store.objects))
    assert tds.registered(changed, td, store.revisions, ARNS) is None
    store._controller(td)
    answer = tds.registered(changed, td, store.revisions, ARNS)
    assert answer is not None and answer["taskDefinition"]["revision"] == 2


def test_content_of_an_older_revision_is_the_next_revision() -> None:
    """A rollback: ECS registers the old content as a new revision; so does the operator,
    and the answer waits for it instead of naming the old revision."""
    store = Store()
    store.register(WEB)
    changed = copy.deepcopy(WEB)
    changed["containerDefinitions"][0]["image"] = "nginx:1.28"
    store.register(changed)
    store.controller_runs = False
    td = store.apply(tds.register_task_definition(WEB, "team-a", store.objects))
    td["status"]["observedGeneration"] = td["metadata"]["generation"]  # status written, revision not yet seen
    assert tds.registered(WEB, td, store.revisions, ARNS) is None
    store._controller(td)
    answer = tds.registered(WEB, td, store.revisions, ARNS)
    assert answer is not None and answer["taskDefinition"]["revision"] == 3


def test_content_of_the_latest_revision_when_it_is_inactive() -> None:
    store = Store()
    store.register(WEB)
    store.objects[0]["spec"]["deregisteredRevisions"] = [1]
    with pytest.raises(EcsError) as caught:
        store.register(WEB)
    assert caught.value.name == "ClientException" and "web:1 has this content and is INACTIVE" in caught.value.message


def test_a_spec_the_operator_refuses_is_an_invalid_parameter() -> None:
    td = {
        "metadata": {"name": "web", "namespace": "team-a", "uid": "u", "generation": 2},
        "spec": WEB,
        "status": {
            "observedGeneration": 2,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "InvalidSpec",
                    "message": "not registered: containerDefinitions[nginx].dependsOn: a cycle",
                }
            ],
        },
    }
    with pytest.raises(EcsError) as caught:
        tds.registered(WEB, td, [], ARNS)
    assert caught.value.name == "InvalidParameterException" and "dependsOn: a cycle" in caught.value.message


def test_a_family_held_by_an_object_of_another_name() -> None:
    store = Store()
    store.apply({"metadata": {"name": "frontend", "namespace": "team-a"}, "spec": WEB})
    manifest = tds.register_task_definition(WEB, "team-a", store.objects)
    assert manifest["metadata"]["name"] == "frontend"
    store.apply({"metadata": {"name": "web", "namespace": "team-a"}, "spec": WEB})
    with pytest.raises(EcsError) as caught:
        tds.register_task_definition(WEB, "team-a", store.objects)
    assert caught.value.name == "ClientException" and "frontend, web" in caught.value.message


def _three_revisions() -> Store:
    store = Store()
    for image in ("nginx:1.26", "nginx:1.27", "nginx:1.28"):
        request = copy.deepcopy(WEB)
        request["containerDefinitions"][0]["image"] = image
        store.register(request)
    return store


def test_describe_by_family_revision_and_arn() -> None:
    store = _three_revisions()
    store.objects[0]["spec"]["deregisteredRevisions"] = [3]

    def describe(ref: str, **extra: Any) -> dict[str, Any]:
        request = {"taskDefinition": ref, **extra}
        assert _model_errors("DescribeTaskDefinition", request) == ""
        return tds.describe_task_definition(request, store.objects, store.revisions, ARNS)

    latest_active = describe("web")["taskDefinition"]
    assert (latest_active["revision"], latest_active["containerDefinitions"][0]["image"]) == (2, "nginx:1.27")
    inactive = describe("web:3")["taskDefinition"]
    assert (inactive["revision"], inactive["status"]) == (3, "INACTIVE")
    by_arn = describe(ARNS.task_definition("web", 1))
    assert by_arn["taskDefinition"]["revision"] == 1 and "tags" not in by_arn
    assert describe("web:1", include=["TAGS"])["tags"] == [{"key": "team", "value": "web"}]


@pytest.mark.parametrize("ref", ["nope", "web:9", "other:1"])
def test_describe_unknown(ref: str) -> None:
    store = _three_revisions()
    with pytest.raises(EcsError) as caught:
        tds.describe_task_definition({"taskDefinition": ref}, store.objects, store.revisions, ARNS)
    assert (caught.value.name, caught.value.message) == ("ClientException", "Unable to describe task definition.")


def test_describe_a_family_without_active_revision() -> None:
    store = Store()
    store.register(WEB)
    store.objects[0]["spec"]["deregisteredRevisions"] = [1]
    with pytest.raises(EcsError, match="Unable to describe task definition"):
        tds.describe_task_definition({"taskDefinition": "web"}, store.objects, store.revisions, ARNS)


def test_describe_refuses_what_is_no_reference() -> None:
    with pytest.raises(EcsError) as caught:
        tds.describe_task_definition({"taskDefinition": ARNS.cluster("prod")}, [], [], ARNS)
    assert caught.value.name == "InvalidParameterException" and "not a task definition ARN" in caught.value.message


def test_revisions_of_other_objects_are_not_mixed_in() -> None:
    store = Store()
    store.register(WEB)
    store.register({**WEB, "family": "api"})
    stale = copy.deepcopy(store.revisions[0])
    stale["metadata"]["ownerReferences"][0]["uid"] = "an-older-web"  # a deleted and re-created object's
    store.revisions.append(stale)
    assert [r.revision for r in tds.revisions_of(store.objects[0], store.revisions)] == [1]


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.stem)
def test_describe_output_registers_again_unchanged(path: Path) -> None:
    """The acceptance detail: DescribeTaskDefinition's taskDefinition, minus the output-only
    fields, is a RegisterTaskDefinition request ECS's model accepts, and registering it
    describes the same task definition again."""
    request = normalize_task_definition(json.loads(path.read_bytes().decode("utf-8-sig")), "corpus")
    store = Store()
    first = store.register(request)["taskDefinition"]
    again = {k: v for k, v in first.items() if k not in OUTPUT_ONLY_KEYS}
    assert _model_errors("RegisterTaskDefinition", again) == ""
    # nothing of the request is lost or changed, but task cpu/memory in units and MiB
    unit_fields = {"cpu", "memory", "tags"}
    assert {k: v for k, v in again.items() if k not in unit_fields} == {
        k: v for k, v in request.items() if k not in unit_fields
    }
    second = store.register({**again, **({"tags": request["tags"]} if request.get("tags") else {})})
    moved = {"revision", "taskDefinitionArn", "registeredAt"}
    assert {k: v for k, v in second["taskDefinition"].items() if k not in moved} == {
        k: v for k, v in first.items() if k not in moved
    }
    assert set(first) >= {"taskDefinitionArn", "revision", "status", "compatibilities", "registeredAt", "family"}


def test_list_task_definitions() -> None:
    store = _three_revisions()
    store.register({**WEB, "family": "api"})
    store.objects[0]["spec"]["deregisteredRevisions"] = [2]

    def arns(request: dict[str, Any]) -> list[str]:
        assert _model_errors("ListTaskDefinitions", request) == ""
        answer = tds.list_task_definitions(request, store.objects, store.revisions, ARNS)
        return [a.rsplit("/", 1)[1] for a in answer["taskDefinitionArns"]]

    assert arns({}) == ["api:1", "web:1", "web:3"]
    assert arns({"sort": "DESC"}) == ["web:3", "web:1", "api:1"]
    assert arns({"status": "INACTIVE"}) == ["web:2"]
    assert arns({"familyPrefix": "web"}) == ["web:1", "web:3"]
    assert arns({"familyPrefix": "we"}) == []  # the whole family, as in ECS


def test_list_task_definitions_pages_in_order() -> None:
    store = _three_revisions()
    first = tds.list_task_definitions({"sort": "DESC", "maxResults": 2}, store.objects, store.revisions, ARNS)
    assert first["taskDefinitionArns"] == [ARNS.task_definition("web", 3), ARNS.task_definition("web", 2)]
    rest = tds.list_task_definitions(
        {"sort": "DESC", "nextToken": first["nextToken"]}, store.objects, store.revisions, ARNS
    )
    assert rest == {"taskDefinitionArns": [ARNS.task_definition("web", 1)]}


def test_list_task_definition_families() -> None:
    store = Store()
    for family in ("web", "web-worker", "api"):
        store.register({**WEB, "family": family})
    store.objects[1]["spec"]["deregisteredRevisions"] = [1]  # web-worker: no ACTIVE revision left

    def families(request: dict[str, Any]) -> dict[str, Any]:
        assert _model_errors("ListTaskDefinitionFamilies", request) == ""
        return tds.list_task_definition_families(request, store.objects, store.revisions)

    assert families({}) == {"families": ["api", "web", "web-worker"]}
    assert families({"status": "ACTIVE"}) == {"families": ["api", "web"]}
    assert families({"status": "INACTIVE"}) == {"families": ["web-worker"]}
    assert families({"familyPrefix": "web"}) == {"families": ["web", "web-worker"]}
    first = families({"maxResults": 1})
    assert first["families"] == ["api"]
    assert families({"maxResults": 1, "nextToken": first["nextToken"]})["families"] == ["web"]


def test_deregister() -> None:
    store = _three_revisions()
    store.objects[0]["spec"]["deregisteredRevisions"] = [1]
    request = {"taskDefinition": ARNS.task_definition("web", 2)}
    assert _model_errors("DeregisterTaskDefinition", request) == ""
    patch, answer = tds.deregister_task_definition(request, store.objects, store.revisions, ARNS)
    assert patch == {"spec": {"deregisteredRevisions": [1, 2]}, "metadata": {"resourceVersion": "3"}}
    assert answer["taskDefinition"]["status"] == "INACTIVE" and answer["taskDefinition"]["revision"] == 2
    again, answer = tds.deregister_task_definition({"taskDefinition": "web:1"}, store.objects, store.revisions, ARNS)
    assert again is None and answer["taskDefinition"]["status"] == "INACTIVE"


def test_deregister_refusals() -> None:
    store = _three_revisions()
    with pytest.raises(EcsError) as caught:
        tds.deregister_task_definition({"taskDefinition": "web"}, store.objects, store.revisions, ARNS)
    assert caught.value.name == "ClientException" and "give a revision" in caught.value.message
    with pytest.raises(EcsError) as caught:
        tds.deregister_task_definition({"taskDefinition": "web:7"}, store.objects, store.revisions, ARNS)
    assert caught.value.name == "ClientException"


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"networkMode": "bridge"}, ["EC2"]),
        ({"networkMode": "awsvpc", "cpu": "256", "memory": "512"}, ["EC2", "FARGATE"]),
        ({"networkMode": "awsvpc"}, ["EC2"]),
        ({"requiresCompatibilities": ["EXTERNAL"]}, ["EC2", "EXTERNAL"]),
    ],
)
def test_compatibilities(request_: dict[str, Any], expected: list[str]) -> None:
    assert tds.compatibilities(request_) == expected
