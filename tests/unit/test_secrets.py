"""Secret references by naming convention; no value is ever read or copied."""

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.secrets import SecretRef, secret_ref
from tests.unit.helpers import container, only_container, translate


@pytest.mark.parametrize(
    ("value_from", "ref"),
    [
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
            SecretRef("sm-prod-db-abcdef", "value"),
        ),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password::",
            SecretRef("sm-prod-db-abcdef", "password"),
        ),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/API_KEY", SecretRef("ssm-app-prod-api-key", "value")),
        ("/app/prod/API_KEY", SecretRef("ssm-app-prod-api-key", "value")),
        ("API_KEY", SecretRef("ssm-api-key", "value")),
    ],
)
def test_naming_convention(value_from: str, ref: SecretRef) -> None:
    assert secret_ref(value_from) == ref


@pytest.mark.parametrize("value_from", ["", "arn:aws:s3:::bucket/key", "has spaces"])
def test_unusable_references_are_errors(value_from: str) -> None:
    with pytest.raises(TranslationError, match="valueFrom"):
        secret_ref(value_from)


def test_secrets_are_secret_key_refs() -> None:
    result = only_container(translate(container(secrets=[{"name": "DB_PASSWORD", "valueFrom": "/prod/db/password"}])))
    assert result["env"] == [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "ssm-prod-db-password", "key": "value"}}}
    ]


def test_repository_credentials_are_image_pull_secrets() -> None:
    spec = translate(
        container(
            repositoryCredentials={
                "credentialsParameter": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-Ab12Cd"
            }
        )
    ).pod_spec
    assert spec["imagePullSecrets"] == [{"name": "sm-dockerhub-ab12cd"}]
