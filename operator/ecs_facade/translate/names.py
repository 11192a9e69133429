"""ECS names (letters of both cases, digits, '-', '_', up to 255) to Kubernetes names."""

import hashlib
import re
from collections.abc import Collection

from ecs_facade.translate import TranslationError

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PORT_NAME_MAX = 15
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


def port_name(ecs_name: str, taken: Collection[str] = ()) -> str:
    """The Kubernetes port name for an ECS port mapping name, never lost and never one in ``taken``.

    Kubernetes port names are IANA service names: at most 15 characters of a-z, 0-9 and '-',
    at least one letter, no '--', no '-' at either end; ECS allows 64 characters and '_'.
    The name is lower-cased with runs of other characters made one '-'; if that fits and is
    free it is kept, else it is cut to leave room for '-' and hex digits of the SHA-256 of the
    ECS name (4, or more while taken), so two long names that share a prefix still differ
    and the same name always gives the same result.
    """
    base = re.sub(r"[^a-z0-9]+", "-", ecs_name.lower()).strip("-")
    if _is_port_name(base) and base not in taken:
        return base
    digest = hashlib.sha256(ecs_name.encode()).hexdigest()
    for digits in range(4, _PORT_NAME_MAX):
        room = _PORT_NAME_MAX - digits - 1
        head = base[:room].rstrip("-")
        if not re.search("[a-z]", head + digest[:digits]):
            head = f"p{head}"[:room].rstrip("-")  # a name needs a letter
        candidate = f"{head}-{digest[:digits]}" if head else f"p{digest[: digits - 1]}"
        if _is_port_name(candidate) and candidate not in taken:
            return candidate
    raise TranslationError(f"port name {ecs_name!r}: no free Kubernetes port name")  # 10^16 taken names


def _is_port_name(name: str) -> bool:
    return len(name) <= _PORT_NAME_MAX and "--" not in name and bool(_PORT_NAME.match(name))
