"""ECS secret references as references to Kubernetes Secrets, by a fixed naming convention.

ecs-facade never reads secret values: a task definition names where a value lives in AWS,
and the pod refers to a Kubernetes Secret that the cluster operator fills (for example
with External Secrets). The convention (docs/secrets.md):

- Secrets Manager ``arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<stage>:<version>]``
  → Secret ``sm-<name>``, key ``<json-key>`` or ``value``;
- SSM parameter ``arn:aws:ssm:<region>:<account>:parameter/<path>``, or ``/<path>`` or ``<name>``
  → Secret ``ssm-<path>``, key ``value``;
- ``repositoryCredentials.credentialsParameter``, which ECS takes only from Secrets Manager: the ARN
  or the bare secret name → Secret ``sm-<name>``;

where names are lower-cased, every character other than ``a-z 0-9 . -`` becomes ``-``.
"""

import re
from dataclasses import dataclass

from ecs_facade.translate import TranslationError

_SECRETS_MANAGER = re.compile(r"^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(?P<rest>.+)$")
_SSM_ARN = re.compile(r"^arn:[^:]+:ssm:[^:]*:[^:]*:parameter(?P<path>/.+)$")
_SSM_NAME = re.compile(r"^/?[A-Za-z0-9_.\-/]+$")
# Secrets Manager secret names: letters, digits and /_+=.@-
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]+$")
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_PLACEHOLDER = re.compile(r"\$\{|\{\{|<[^>]*>")


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


_EXPECTED = "expected a Secrets Manager ARN, an SSM parameter ARN or an SSM parameter name"


def secret_ref(value_from: str, where: str = "secrets[].valueFrom") -> SecretRef:
    """Where the value of an ECS ``secrets[].valueFrom`` (or repository credential) lives in Kubernetes.

    ``where`` is the field, as ECS names it (``containerDefinitions[web].secrets[DB_PASSWORD].valueFrom``),
    that errors name."""
    text = value_from.strip()
    if not text:
        raise TranslationError(f"{where}: empty; {_EXPECTED}")
    match = _SECRETS_MANAGER.match(text)
    if match:
        name, _, json_part = match.group("rest").partition(":")
        json_key = json_part.split(":")[0] if json_part else ""
        if json_key and not _KEY.match(json_key):
            raise TranslationError(
                f"{where}: the json-key {json_key!r} of {value_from!r} cannot be a Kubernetes Secret key"
                " (letters, digits, '-', '_' and '.')"
            )
        return SecretRef(_secret_name("sm", name, where), json_key or "value")
    match = _SSM_ARN.match(text)
    if match:
        return SecretRef(_secret_name("ssm", match.group("path").lstrip("/"), where), "value")
    if text.startswith("arn:"):
        raise TranslationError(f"{where}: {value_from!r} is an ARN of neither Secrets Manager nor SSM; {_EXPECTED}")
    if _SSM_NAME.match(text):
        return SecretRef(_secret_name("ssm", text.lstrip("/"), where), "value")
    raise TranslationError(f"{where}: {value_from!r} is not a secret reference{_placeholder(text)}; {_EXPECTED}")


def repository_credentials_ref(credentials_parameter: str, where: str) -> SecretRef:
    """The image pull Secret of ``repositoryCredentials.credentialsParameter``: ECS takes a Secrets Manager
    secret there, by ARN or (in the task's region) by name, so a bare name is a Secrets Manager name."""
    text = credentials_parameter.strip()
    expected = "expected the ARN or the name of a Secrets Manager secret"
    if not text:
        raise TranslationError(f"{where}: empty; {expected}")
    match = _SECRETS_MANAGER.match(text)
    if match:
        return SecretRef(_secret_name("sm", match.group("rest").partition(":")[0], where), "value")
    if text.startswith("arn:"):
        raise TranslationError(f"{where}: {credentials_parameter!r} is not a Secrets Manager ARN; {expected}")
    if _SECRET_NAME.match(text):
        return SecretRef(_secret_name("sm", text, where), "value")
    raise TranslationError(
        f"{where}: {credentials_parameter!r} is not a secret name{_placeholder(text)}; {expected}"
        " (a name has letters, digits and /_+=.@-)"
    )


def _placeholder(text: str) -> str:
    """A hint for a template variable never filled in (``${SECRET_ARN}``, ``<secret-arn>``, ``{{ arn }}``)."""
    return " (it looks like a placeholder that was never filled in)" if _PLACEHOLDER.search(text) else ""


def _secret_name(prefix: str, name: str, where: str) -> str:
    try:
        return kube_secret_name(prefix, name)
    except TranslationError as error:
        raise TranslationError(f"{where}: {error}") from None
