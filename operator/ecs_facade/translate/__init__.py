"""Pure translation of ECS shapes into Kubernetes manifests: no I/O, no kopf, no API client.

Every path that creates Kubernetes objects from ECS input (controllers, CLI) goes through
these functions, so that a field means the same thing everywhere.
"""


class TranslationError(ValueError):
    """The ECS input is valid in shape but cannot be expressed on Kubernetes."""
