"""ECS names (letters of both cases, digits, '-', '_', up to 255) to Kubernetes names."""

import re

from ecs_facade.translate import TranslationError

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def container_name(ecs_name: str) -> str:
    """Kubernetes container names are DNS labels: lower-case, '-' for '_', at most 63 characters."""
    name = ecs_name.lower().replace("_", "-")
    if len(name) > 63 or not _DNS_LABEL.match(name):
        raise TranslationError(
            f"container name {ecs_name!r} cannot be a Kubernetes container name "
            "(at most 63 characters, starting and ending with a letter or digit)"
        )
    return name


def port_name(ecs_name: str | None) -> str | None:
    """A port name is kept when Kubernetes accepts it (IANA service name, <= 15 chars), else dropped."""
    if not ecs_name:
        return None
    name = ecs_name.lower().replace("_", "-")
    if len(name) > 15 or "--" in name or not _PORT_NAME.match(name):
        return None
    return name
