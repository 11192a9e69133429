"""ecs-facade: Amazon ECS semantics on Kubernetes."""

__version__ = "0.1.0"
