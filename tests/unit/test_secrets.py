"""Secret references by naming convention; no value is ever read or copied."""

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.secrets import SecretRef, repository_credentials_ref, secret_ref
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


@pytest.mark.parametrize(
    ("value_from", "message"),
    [
        ("", "empty; expected a Secrets Manager ARN, an SSM parameter ARN or an SSM parameter name"),
        ("arn:aws:s3:::bucket/key", "'arn:aws:s3:::bucket/key' is an ARN of neither Secrets Manager nor SSM; expected"),
        ("<db-password-arn>", "'<db-password-arn>' is not a secret reference (it looks like a placeholder that was"),
        ("${DB_PASSWORD_ARN}", "'${DB_PASSWORD_ARN}' is not a secret reference (it looks like a placeholder"),
        ("has spaces", "'has spaces' is not a secret reference; expected"),
    ],
)
def test_errors_name_the_field_given(value_from: str, message: str) -> None:
    where = "containerDefinitions[api].secrets[DB_PASSWORD].valueFrom"
    with pytest.raises(TranslationError) as failure:
        secret_ref(value_from, where)
    assert str(failure.value).startswith(f"{where}: {message}")


def test_a_secrets_translation_error_names_the_container_and_the_secret() -> None:
    with pytest.raises(TranslationError) as failure:
        translate(container(name="api", secrets=[{"name": "DB_PASSWORD", "valueFrom": ""}]))
    assert str(failure.value).startswith("containerDefinitions[api].secrets[DB_PASSWORD].valueFrom: empty;")


@pytest.mark.parametrize(
    ("parameter", "secret"),
    [
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-Ab12Cd", "sm-dockerhub-ab12cd"),
        # ECS takes the secret's name in the task's region: a Secrets Manager name, not an SSM one
        ("dockerhub/pull", "sm-dockerhub-pull"),
    ],
)
def test_repository_credentials_are_secrets_manager_secrets(parameter: str, secret: str) -> None:
    ref = repository_credentials_ref(parameter, "containerDefinitions[app].repositoryCredentials.credentialsParameter")
    assert ref == SecretRef(secret, "value")


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ("", "empty; expected the ARN or the name of a Secrets Manager secret"),
        ("  ", "empty; expected"),
        (
            "${REGISTRY_CREDENTIALS_ARN}",
            "'${REGISTRY_CREDENTIALS_ARN}' is not a secret name (it looks like a placeholder",
        ),
        (
            "arn:aws:ssm:us-east-1:123456789012:parameter/pull",
            "'arn:aws:ssm:us-east-1:123456789012:parameter/pull' is not a Secrets Manager ARN; expected",
        ),
    ],
)
def test_unusable_repository_credentials_name_the_container_and_the_field(parameter: str, message: str) -> None:
    with pytest.raises(TranslationError) as failure:
        translate(container(name="api", repositoryCredentials={"credentialsParameter": parameter}))
    assert str(failure.value).startswith(
        f"containerDefinitions[api].repositoryCredentials.credentialsParameter: {message}"
    )


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
