"""The Events the operator posts itself (a service's ECS events) read as kopf's do."""

from ecs_facade.kube.client import MAX_EVENT_MESSAGE, event_body

INVOLVED = {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSService", "name": "web", "namespace": "ns", "uid": "u"}


def test_an_event_names_its_object_and_says_who_reported_it() -> None:
    body = event_body(INVOLVED, "Normal", "ECSServiceEvent", "(service web) has reached a steady state.", "T")
    assert body["metadata"] == {"namespace": "ns", "generateName": "web."}
    assert body["involvedObject"] == INVOLVED
    assert (body["type"], body["reason"], body["message"]) == (
        "Normal",
        "ECSServiceEvent",
        "(service web) has reached a steady state.",
    )
    assert body["source"] == {"component": "ecs-facade"} and body["reportingComponent"] == "ecs-facade"
    assert (body["firstTimestamp"], body["lastTimestamp"], body["count"]) == ("T", "T", 1)


def test_a_long_message_is_cut_in_its_middle() -> None:
    message = "a" * 700 + "b" * 700
    cut = event_body(INVOLVED, "Warning", "R", message, "T")["message"]
    assert len(cut) <= MAX_EVENT_MESSAGE and cut.startswith("aaa") and cut.endswith("bbb") and "..." in cut
