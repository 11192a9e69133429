"""Leader election: who may hold the Lease, and what a holder writes."""

import datetime

from ecs_facade.leader import decide, lease_spec

NOW = datetime.datetime(2026, 12, 1, 10, 0, 0, tzinfo=datetime.UTC)


def held_by(holder: str | None, renewed_seconds_ago: float, duration: int = 15) -> dict[str, object]:
    renewed = NOW - datetime.timedelta(seconds=renewed_seconds_ago)
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "renewTime": renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "acquireTime": renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "leaseTransitions": 2,
    }


def test_no_lease_is_taken() -> None:
    assert decide(None, "a", NOW) == "acquire"


def test_own_lease_is_renewed() -> None:
    assert decide(held_by("a", 5), "a", NOW) == "renew"


def test_a_live_lease_of_another_is_waited_for() -> None:
    assert decide(held_by("b", 5), "a", NOW) == "wait"
    assert decide(held_by("b", 14.9), "a", NOW) == "wait"


def test_an_expired_lease_is_taken_over() -> None:
    assert decide(held_by("b", 15), "a", NOW) == "acquire"
    assert decide(held_by("b", 600), "a", NOW) == "acquire"


def test_a_released_lease_is_taken_at_once() -> None:
    assert decide(held_by(None, 0, duration=1), "a", NOW) == "acquire"
    assert decide(held_by("", 0), "a", NOW) == "acquire"


def test_acquiring_counts_a_transition_and_renewing_keeps_the_acquire_time() -> None:
    taken = lease_spec(held_by("b", 600), "a", 15, NOW)
    assert taken["holderIdentity"] == "a"
    assert taken["leaseTransitions"] == 3
    assert taken["acquireTime"] == taken["renewTime"] == "2026-12-01T10:00:00.000000Z"
    later = NOW + datetime.timedelta(seconds=2)
    renewed = lease_spec(taken, "a", 15, later)
    assert renewed["leaseTransitions"] == 3
    assert renewed["acquireTime"] == "2026-12-01T10:00:00.000000Z"
    assert renewed["renewTime"] == "2026-12-01T10:00:02.000000Z"


def test_first_lease_has_no_transitions() -> None:
    assert lease_spec(None, "a", 15, NOW)["leaseTransitions"] == 0
