"""Operator-wide settings: the quiet list names exactly the raw-event handlers."""

import logging
from typing import Any, cast

import kopf

import ecs_facade.controllers  # noqa: F401  (registers the handlers)
from ecs_facade.controllers.settings import EVENT_HANDLERS, LeanDiffBaseStorage, QuietEventHandlers


def test_the_quiet_list_is_every_raw_event_handler() -> None:
    registry = kopf.get_default_registry()
    assert {str(h.id) for h in registry._watching.get_all_handlers()} == EVENT_HANDLERS


def record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)


def test_event_handler_successes_are_dropped_and_everything_else_kept() -> None:
    quiet = QuietEventHandlers()
    assert not quiet.filter(record("Timer 'cluster_sync' succeeded."))
    assert quiet.filter(record("Handler 'service_changed' succeeded."))  # not an event handler
    assert quiet.filter(record("Timer 'cluster_sync' failed with an exception.", logging.ERROR))
    assert quiet.filter(record("task ns/web-1 placed with capacity provider spot"))


def body(api_version: str) -> kopf.Body:
    raw: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "Thing",
        "metadata": {
            "name": "web",
            "uid": "u1",
            "labels": {"app": "web"},
            "annotations": {"note": "kept", "ecs.facade.dev/last-handled-configuration": "{}"},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {"desiredCount": 3, "nested": {"list": [1, 2]}},
        "status": {"runningCount": 2, "events": [{"message": "long"}] * 100},
    }
    return kopf.Body(cast(kopf.RawBody, raw))


def storages() -> tuple[LeanDiffBaseStorage, kopf.AnnotationsDiffBaseStorage]:
    prefix, key = "ecs.facade.dev", "last-handled-configuration"
    return LeanDiffBaseStorage(prefix=prefix, key=key), kopf.AnnotationsDiffBaseStorage(prefix=prefix, key=key)


def test_the_diff_base_of_this_operators_kinds_is_kopfs_own() -> None:
    lean, full = storages()
    ours = body("ecs.facade.dev/v1alpha1")
    assert lean.build(body=ours) == full.build(body=ours)
    assert lean.build(body=ours, extra_fields=["spec"]) == full.build(body=ours, extra_fields=["spec"])
    assert lean.build(body=ours, extra_fields=["status.runningCount"]) == full.build(
        body=ours, extra_fields=["status.runningCount"]
    )
    assert lean.build(body=ours)["spec"] == {"desiredCount": 3, "nested": {"list": [1, 2]}}


def test_the_diff_base_of_other_kinds_is_empty() -> None:
    lean, _ = storages()
    assert lean.build(body=body("v1")) == {}
    assert lean.build(body=body("apps/v1")) == {}
