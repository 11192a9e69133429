"""The ECS API (AWS JSON 1.1) served by ecs-facade: pure actions (request -> custom resources,
custom resources -> ECS response) and, around them, the thin layer that reads and writes the
custom resources. docs/ecs-api.md describes it."""
