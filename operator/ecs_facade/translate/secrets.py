"""ECS secret references as references to Kubernetes Secrets, by a fixed naming convention.

ecs-facade never reads secret values: a task definition names where a value lives in AWS,
and the pod refers to a Kubernetes Secret that the cluster operator fills (for example
with External Secrets). The convention (docs/secrets.md):

- Secrets Manager ``arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<stage>:<version>]``
  → Secret ``sm-<name>``, key ``<json-key>`` or ``value``;
- SSM parameter ``arn:aws:ssm:<region>:<account>:parameter/<path>``, or ``/<path>`` or ``<name>``
  → Secret ``ssm-<path>``, key ``value``;

where names are lower-cased, every character other than ``a-z 0-9 . -`` becomes ``-``.
"""

import re
from dataclasses import dataclass

from ecs_facade.translate import TranslationError

_SECRETS_MANAGER = re.compile(r"^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(?P<rest>.+)$")
_SSM_ARN = re.compile(r"^arn:[^:]+:ssm:[^:]*:[^:]*:parameter(?P<path>/.+)$")
_SSM_NAME = re.compile(r"^/?[A-Za-z0-9_.\-/]+$")
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str


def kube_secret_name(prefix: str, name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    cleaned = re.sub(r"-{2,}", "-", cleaned)
    result = f"{prefix}-{cleaned}"[:253].rstrip("-.")
    if not cleaned:
        raise TranslationError(f"secret name {name!r} has no letters or digits")
    return result


def secret_ref(value_from: str) -> SecretRef:
    """Where the value of an ECS ``secrets[].valueFrom`` (or repository credential) lives in Kubernetes."""
    text = value_from.strip()
    match = _SECRETS_MANAGER.match(text)
    if match:
        name, _, json_part = match.group("rest").partition(":")
        json_key = json_part.split(":")[0] if json_part else ""
        if json_key and not _KEY.match(json_key):
            raise TranslationError(f"secrets valueFrom {value_from!r}: json-key {json_key!r} is not a valid Secret key")
        return SecretRef(kube_secret_name("sm", name), json_key or "value")
    match = _SSM_ARN.match(text)
    if match:
        return SecretRef(kube_secret_name("ssm", match.group("path").lstrip("/")), "value")
    if text.startswith("arn:"):
        raise TranslationError(
            f"secrets valueFrom {value_from!r} is an ARN of neither Secrets Manager nor SSM Parameter Store"
        )
    if _SSM_NAME.match(text):
        return SecretRef(kube_secret_name("ssm", text.lstrip("/")), "value")
    raise TranslationError(
        f"secrets valueFrom {value_from!r} is not a Secrets Manager ARN, an SSM parameter ARN or a parameter name"
    )
