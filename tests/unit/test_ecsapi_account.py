"""Account settings: ECS's defaults, fixed; Put of the value in force answers it, of another
value is refused with the reason."""

import pytest

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import account
from ecs_facade.ecsapi.account_handlers import AccountActions
from ecs_facade.ecsapi.errors import EcsError
from ecs_facade.ecsapi.protocol import Dispatcher
from tests.unit import ecsapi_calls

ARNS = Arns("us-east-1", "123456789012")
ROOT = "arn:aws:iam::123456789012:root"


@pytest.fixture
def dispatcher() -> Dispatcher:
    return ecsapi_calls.dispatcher_of(AccountActions(ARNS))


def test_every_model_setting_has_a_default_and_its_values() -> None:
    model = Dispatcher().models["ecs"]
    assert set(account.SETTINGS) == set(model.shapes["SettingName"]["enum"])
    for name, value in account.SETTINGS.items():
        assert value in account._VALUES[name]


def test_list_all_settings_in_order(dispatcher: Dispatcher) -> None:
    answer = ecsapi_calls.call(dispatcher, "ListAccountSettings", {"effectiveSettings": True})
    settings = answer["settings"]
    assert [s["name"] for s in settings] == list(account.SETTINGS)[:10]  # a page holds 10, as in ECS
    assert settings[0] == {"name": "serviceLongArnFormat", "value": "enabled", "principalArn": ROOT, "type": "user"}
    assert {s["name"]: s["value"] for s in settings}["containerInsights"] == "disabled"
    rest = ecsapi_calls.call(dispatcher, "ListAccountSettings", {"nextToken": answer["nextToken"]})
    assert rest == {
        "settings": [{"name": "fargateEventWindows", "value": "disabled", "principalArn": ROOT, "type": "user"}]
    }


def test_list_filters_by_name_and_value() -> None:
    assert account.list_account_settings({"name": "awsvpcTrunking"}, "1")["settings"] == [
        {"name": "awsvpcTrunking", "value": "disabled", "principalArn": "arn:aws:iam::1:root", "type": "user"}
    ]
    assert account.list_account_settings({"name": "awsvpcTrunking", "value": "enabled"}, "1") == {"settings": []}
    assert account.list_account_settings({"name": "guardDutyActivate"}, "1")["settings"][0]["type"] == "aws_managed"
    with pytest.raises(EcsError, match="value: give name with it"):
        account.list_account_settings({"value": "enabled"}, "1")
    with pytest.raises(EcsError, match="maxResults"):
        account.list_account_settings({"maxResults": 11}, "1")


def test_put_of_the_value_in_force_answers_it(dispatcher: Dispatcher) -> None:
    for action in ("PutAccountSetting", "PutAccountSettingDefault"):
        answer = ecsapi_calls.call(dispatcher, action, {"name": "containerInstanceLongArnFormat", "value": "enabled"})
        assert answer == {
            "setting": {
                "name": "containerInstanceLongArnFormat",
                "value": "enabled",
                "principalArn": ROOT,
                "type": "user",
            }
        }
    assert (
        ecsapi_calls.call(dispatcher, "DeleteAccountSetting", {"name": "containerInsights"})["setting"]["value"]
        == "disabled"
    )


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        (
            "serviceLongArnFormat",
            "disabled",
            "InvalidParameterException",
            "You can no longer disable Long Arn settings.",
        ),
        (
            "containerInsights",
            "enabled",
            "UnsupportedFeatureException",
            "containerInsights: ecs-facade keeps it 'disabled'",
        ),
        ("awsvpcTrunking", "enabled", "UnsupportedFeatureException", "awsvpcTrunking"),
        ("guardDutyActivate", "on", "InvalidParameterException", "read-only"),
        ("containerInsights", "maybe", "InvalidParameterException", "expected one of disabled, enabled, enhanced"),
    ],
)
def test_put_of_another_value_is_refused(
    dispatcher: Dispatcher, name: str, value: str, error: str, message: str
) -> None:
    with pytest.raises(EcsError) as caught:
        ecsapi_calls.call(dispatcher, "PutAccountSettingDefault", {"name": name, "value": value})
    assert caught.value.name == error
    assert message in caught.value.message


def test_the_model_refuses_an_unknown_name_and_the_key_needs_a_namespace(dispatcher: Dispatcher) -> None:
    with pytest.raises(EcsError, match="InvalidParameterException"):
        ecsapi_calls.call(dispatcher, "PutAccountSetting", {"name": "nope", "value": "enabled"})
    with pytest.raises(EcsError, match="AccessDeniedException"):
        ecsapi_calls.call(dispatcher, "ListAccountSettings", {}, namespaces=frozenset({"*"}))
