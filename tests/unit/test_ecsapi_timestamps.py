"""The ECS API's timestamps: epoch seconds from the RFC 3339 times Kubernetes writes."""

import pytest

from ecs_facade.ecsapi.timestamps import epoch, with_epochs


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-01-01T00:00:00Z", 1767225600.0),
        ("2026-01-01T01:00:00+01:00", 1767225600.0),
        ("2026-01-01T00:00:00", 1767225600.0),  # no zone: UTC
        (1767225600.5, 1767225600.5),  # already epoch seconds
        (None, None),
        ("", None),
        ("yesterday", None),
    ],
)
def test_epoch(timestamp: object, expected: float | None) -> None:
    assert epoch(timestamp) == expected


def test_with_epochs_drops_nulls_and_what_is_no_time() -> None:
    item = {"id": "d-1", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "never", "rolloutState": None}
    assert with_epochs(item, ("createdAt", "updatedAt", "startedAt")) == {"id": "d-1", "createdAt": 1767225600.0}
