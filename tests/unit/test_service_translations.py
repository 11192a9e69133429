"""A revision's translation is worked out once, for every reconcile of every service that runs it."""

from typing import Any

import pydantic
import pytest

from ecs_facade.controllers.indexes import Revision
from ecs_facade.controllers.service import plan as service
from ecs_facade.controllers.state import OperatorState
from ecs_facade.translate.taskdefinition import TranslationOptions

REQUEST = {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:1.27", "memory": 128}]}


def revision(number: int = 1, content_hash: str = "h1", request: dict[str, Any] | None = None) -> Revision:
    return Revision(f"web-{number}", "web", number, "ACTIVE", content_hash, "T", request or REQUEST)


def test_the_same_revision_is_translated_once(state: OperatorState) -> None:
    first = service._translated(state, revision(), "web", TranslationOptions())
    again = service._translated(state, revision(), "web", TranslationOptions())
    assert first is again
    definition, translation = first
    assert definition.family == "web"
    assert [c["name"] for c in translation.pod_spec["containers"]] == ["app"]


def test_other_content_or_options_are_translated_anew(state: OperatorState) -> None:
    first = service._translated(state, revision(), "web", TranslationOptions())
    assert service._translated(state, revision(content_hash="h2"), "web", TranslationOptions()) is not first
    assert service._translated(state, revision(), "web", TranslationOptions(pod_level_resources=False)) is not first


def test_an_invalid_revision_raises_every_time_and_is_not_kept(state: OperatorState) -> None:
    bad = revision(2, "h3", {"family": "web", "containerDefinitions": "not a list"})
    for _ in range(2):
        with pytest.raises(pydantic.ValidationError):
            service._translated(state, bad, "web", TranslationOptions())
    assert state.services.translations == {}


def test_only_so_many_are_kept(state: OperatorState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "_TRANSLATIONS_KEPT", 2)
    for number in range(3):
        service._translated(state, revision(number, f"h{number}"), "web", TranslationOptions())
    assert [key[0] for key in state.services.translations] == ["web-1", "web-2"]
