"""Pure views of Kubernetes state as ECS reports it (counts, conditions): no I/O."""
