"""``ecs-facade remove-finalizers`` (finalizers.py): only ecs-facade's finalizer, from every
ECS kind the API server serves, never another controller's, and never from finalizers that
changed since they were read."""

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from ecs_facade import cli
from ecs_facade.api import API_VERSION, CLUSTERS, FINALIZER, SERVICES, TASK_DEFINITIONS, TASKS
from ecs_facade.finalizers import finalizer_patch, remove_finalizers

OTHER = "example.com/keep-me"


def obj(
    name: str, namespace: str | None = None, finalizers: Sequence[str] = (), deleting: bool = False
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "finalizers": list(finalizers)}
    if namespace:
        meta["namespace"] = namespace
    if deleting:
        meta["deletionTimestamp"] = "2026-12-07T10:00:00Z"
    return {"apiVersion": API_VERSION, "metadata": meta}


class FakeApi:
    """The API server's side: objects by (plural, namespace, name), JSON patches with their
    ``test``; ``served`` kinds only; ``before_patch`` runs before a patch lands (a change
    made meanwhile by someone else)."""

    def __init__(self, objects: dict[str, list[dict[str, Any]]], served: Sequence[str]) -> None:
        self.objects = {
            (plural, o["metadata"].get("namespace"), o["metadata"]["name"]): o
            for plural, items in objects.items()
            for o in items
        }
        self.served = set(served)
        self.patches: list[tuple[str, str | None, str, list[dict[str, Any]]]] = []
        self.reads = 0
        self.before_patch: list[Any] = []

    def list_everywhere(self, api_version: str, plural: str) -> list[dict[str, Any]] | None:
        assert api_version == API_VERSION
        if plural not in self.served:
            return None
        return [copy.deepcopy(o) for (p, _, _), o in self.objects.items() if p == plural]

    def get_any(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.reads += 1
        found = self.objects.get((plural, namespace, name))
        return copy.deepcopy(found) if found else None

    def json_patch(
        self, api_version: str, plural: str, namespace: str | None, name: str, operations: Sequence[Mapping[str, Any]]
    ) -> None:
        if self.before_patch:
            self.before_patch.pop(0)(self)
        self.patches.append((plural, namespace, name, [dict(o) for o in operations]))
        target = self.objects.get((plural, namespace, name))
        if target is None:
            raise ApiException(status=404, reason="Not Found")
        for operation in operations:
            assert operation["path"] == "/metadata/finalizers"
            if operation["op"] == "test" and target["metadata"].get("finalizers") != operation["value"]:
                raise ApiException(status=422, reason="Unprocessable Entity")
            if operation["op"] == "replace":
                target["metadata"]["finalizers"] = list(operation["value"])


def test_the_patch_takes_off_only_ecs_facades_finalizer_if_the_list_is_unchanged() -> None:
    assert finalizer_patch(obj("a")) is None
    assert finalizer_patch(obj("a", finalizers=[OTHER])) is None
    assert finalizer_patch(obj("a", finalizers=[OTHER, FINALIZER, "x/y"])) == [
        {"op": "test", "path": "/metadata/finalizers", "value": [OTHER, FINALIZER, "x/y"]},
        {"op": "replace", "path": "/metadata/finalizers", "value": [OTHER, "x/y"]},
    ]
    assert FINALIZER == "ecs.facade.dev/finalizer"  # what kopf is told (controllers/settings.py)


def test_every_ecs_kind_loses_the_finalizer_and_keeps_the_others() -> None:
    api = FakeApi(
        {
            CLUSTERS: [obj("prod", finalizers=[FINALIZER], deleting=True), obj("default", finalizers=[FINALIZER])],
            TASKS: [
                obj("stopped", "team", [OTHER, FINALIZER], deleting=True),
                obj("running", "team"),
            ],
            SERVICES: [obj("web", "team", [OTHER])],
        },
        served=[CLUSTERS, TASKS, SERVICES],
    )
    said: list[str] = []
    done = remove_finalizers(api, say=said.append)
    assert sorted(str(f) for f in done) == ["ecsclusters/default", "ecsclusters/prod", "ecstasks/team/stopped"]
    assert api.objects[(CLUSTERS, None, "prod")]["metadata"]["finalizers"] == []
    assert api.objects[(CLUSTERS, None, "default")]["metadata"]["finalizers"] == []
    assert api.objects[(TASKS, "team", "stopped")]["metadata"]["finalizers"] == [OTHER]
    assert api.objects[(SERVICES, "team", "web")]["metadata"]["finalizers"] == [OTHER]
    assert len(api.patches) == 3  # nothing patched that did not have it
    assert "ecsclusters/prod: finalizer removed (being deleted: it goes now)" in said
    assert "ecstasks/team/stopped: finalizer removed (being deleted: it goes now)" in said
    assert "ecsclusters/default: finalizer removed" in said
    assert f"{TASK_DEFINITIONS}: not served (no CRD), skipped" in said
    assert said[-1] == f"{FINALIZER} removed from 3 object(s)"


def test_a_dry_run_patches_nothing() -> None:
    api = FakeApi({CLUSTERS: [obj("prod", finalizers=[FINALIZER], deleting=True)]}, served=KINDS_ALL)
    said: list[str] = []
    done = remove_finalizers(api, dry_run=True, say=said.append)
    assert [str(f) for f in done] == ["ecsclusters/prod"]
    assert api.patches == []
    assert api.objects[(CLUSTERS, None, "prod")]["metadata"]["finalizers"] == [FINALIZER]
    assert said == [
        "ecsclusters/prod: has the finalizer (being deleted)",
        f"{FINALIZER} would be removed from 1 object(s)",
    ]


def test_finalizers_changed_meanwhile_are_read_again_and_kept() -> None:
    api = FakeApi({TASKS: [obj("t", "team", [FINALIZER])]}, served=[TASKS])

    def another_controller_adds_its_own(fake: FakeApi) -> None:
        fake.objects[(TASKS, "team", "t")]["metadata"]["finalizers"].append(OTHER)

    api.before_patch.append(another_controller_adds_its_own)
    done = remove_finalizers(api, say=lambda _: None)
    assert [str(f) for f in done] == ["ecstasks/team/t"]
    assert api.objects[(TASKS, "team", "t")]["metadata"]["finalizers"] == [OTHER]
    assert len(api.patches) == 2 and api.reads == 1  # refused once (the test), read again, patched


def test_an_object_gone_or_finalized_meanwhile_is_not_counted() -> None:
    api = FakeApi(
        {TASKS: [obj("gone", "team", [FINALIZER]), obj("done", "team", [FINALIZER])]},
        served=[TASKS],
    )
    api.before_patch.append(lambda fake: fake.objects.pop((TASKS, "team", "gone")))

    def the_operator_finished_it(fake: FakeApi) -> None:
        fake.objects[(TASKS, "team", "done")]["metadata"]["finalizers"] = []

    api.before_patch.append(the_operator_finished_it)
    said: list[str] = []
    assert remove_finalizers(api, say=said.append) == []
    assert said == [
        f"{CLUSTERS}: not served (no CRD), skipped",
        f"{SERVICES}: not served (no CRD), skipped",
        f"{TASK_DEFINITIONS}: not served (no CRD), skipped",
        f"{FINALIZER} removed from 0 object(s)",
    ]


def test_an_object_whose_finalizers_keep_changing_is_an_error_not_a_loop() -> None:
    api = FakeApi({TASKS: [obj("t", "team", [FINALIZER])]}, served=[TASKS])

    def change(fake: FakeApi) -> None:
        fake.objects[(TASKS, "team", "t")]["metadata"]["finalizers"].append(f"x/{len(fake.patches)}")

    api.before_patch.extend([change] * 10)
    with pytest.raises(RuntimeError, match="ecstasks/team/t: its finalizers kept changing"):
        remove_finalizers(api, say=lambda _: None)
    assert len(api.patches) == 5


def test_the_command_prints_what_it_did_and_fails_readably(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeApi({CLUSTERS: [obj("prod", finalizers=[FINALIZER], deleting=True)]}, served=KINDS_ALL)
    monkeypatch.setattr("ecs_facade.kube.client.list_everywhere", api.list_everywhere)
    monkeypatch.setattr("ecs_facade.kube.client.get_any", api.get_any)
    monkeypatch.setattr("ecs_facade.kube.client.json_patch", api.json_patch)
    assert cli.main(["remove-finalizers"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ecsclusters/prod: finalizer removed (being deleted: it goes now)",
        f"{FINALIZER} removed from 1 object(s)",
    ]

    def forbidden(*_: Any) -> None:
        raise ApiException(status=403, reason="Forbidden")

    monkeypatch.setattr("ecs_facade.kube.client.list_everywhere", forbidden)
    assert cli.main(["remove-finalizers"]) == 1
    assert capsys.readouterr().err.startswith("ecs-facade remove-finalizers: the API server answered 403 Forbidden")


KINDS_ALL = [CLUSTERS, TASKS, SERVICES, TASK_DEFINITIONS]
