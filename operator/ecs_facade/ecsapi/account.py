"""ListAccountSettings, PutAccountSetting, PutAccountSettingDefault, DeleteAccountSetting:
pure halves.

Tools read (and some set) these at start-up (the long ARN formats, Container Insights). What
they describe is fixed in ecs-facade: ARNs are always the long formats (arns.py), there is no
ENI trunking, no Container Insights, no Fargate. So the settings are ECS's current defaults,
the same for every namespace (account) and principal, and nothing is stored: a Put of the
value in force answers it; a Put of another value is refused, naming the setting and the
value in force (ECS's own message for the long ARN formats, which ECS no longer lets anyone
disable; UnsupportedFeatureException for what ecs-facade cannot do), so a tool never believes
it turned on something that does not exist.
"""

from collections.abc import Mapping
from typing import Any

from ecs_facade.ecsapi.errors import ApiError, invalid_parameter
from ecs_facade.ecsapi.pagination import page

# ECS's defaults (of an account created today), in the model's SettingName order
SETTINGS: dict[str, str] = {
    "serviceLongArnFormat": "enabled",
    "taskLongArnFormat": "enabled",
    "containerInstanceLongArnFormat": "enabled",
    "awsvpcTrunking": "disabled",
    "containerInsights": "disabled",
    "fargateFIPSMode": "disabled",
    "tagResourceAuthorization": "on",
    "fargateTaskRetirementWaitPeriod": "7",
    "guardDutyActivate": "off",
    "defaultLogDriverMode": "non-blocking",
    "fargateEventWindows": "disabled",
}
_LONG_ARN = frozenset({"serviceLongArnFormat", "taskLongArnFormat", "containerInstanceLongArnFormat"})
_AWS_MANAGED = frozenset({"guardDutyActivate"})
# the values ECS takes for each setting (the model leaves `value` a free string)
_VALUES: dict[str, frozenset[str]] = {
    **dict.fromkeys(_LONG_ARN, frozenset({"enabled", "disabled"})),
    "awsvpcTrunking": frozenset({"enabled", "disabled"}),
    "containerInsights": frozenset({"enabled", "disabled", "enhanced"}),
    "fargateFIPSMode": frozenset({"enabled", "disabled"}),
    "tagResourceAuthorization": frozenset({"on", "off"}),
    "fargateTaskRetirementWaitPeriod": frozenset({"0", "7", "14"}),
    "guardDutyActivate": frozenset({"on", "off"}),
    "defaultLogDriverMode": frozenset({"blocking", "non-blocking"}),
    "fargateEventWindows": frozenset({"enabled", "disabled"}),
}
_WHY: dict[str, str] = {
    "awsvpcTrunking": "pods get their network from the Kubernetes network plugin, not from instance ENIs",
    "containerInsights": "ecs-facade publishes no Container Insights metrics (Kubernetes metrics apply)",
    "fargateFIPSMode": "there is no Fargate: tasks run as pods on the cluster's nodes",
    "tagResourceAuthorization": "tags are authorized as the rest of the request: by the access key's namespaces",
    "fargateTaskRetirementWaitPeriod": "there is no Fargate task retirement",
    "defaultLogDriverMode": "container logs go to the kubelet, whatever the mode",
    "fargateEventWindows": "there is no Fargate task retirement",
}
MAX_RESULTS = 10  # ListAccountSettings pages at most 10, as ECS


def principal_arn(account_id: str) -> str:
    """The principal every setting answers for: the account's root (keys are not IAM users)."""
    return f"arn:aws:iam::{account_id}:root"


def setting(name: str, account_id: str) -> dict[str, str]:
    return {
        "name": name,
        "value": SETTINGS[name],
        "principalArn": principal_arn(account_id),
        "type": "aws_managed" if name in _AWS_MANAGED else "user",
    }


def list_account_settings(request: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """The settings in force, filtered by ``name`` and ``value`` (``value`` only with a name,
    as ECS requires); ``principalArn`` and ``effectiveSettings`` change nothing: every
    principal has the defaults."""
    name, value = request.get("name"), request.get("value")
    if value is not None and name is None:
        raise invalid_parameter("value: give name with it (the setting whose value to match)")
    names = [n for n in SETTINGS if (name is None or n == name) and (value is None or SETTINGS[n] == value)]
    max_results = request.get("maxResults")
    if max_results is not None and not 1 <= max_results <= MAX_RESULTS:
        raise invalid_parameter(f"maxResults: {max_results!r} is out of range; expected 1 to {MAX_RESULTS}")
    order = {n: i for i, n in enumerate(SETTINGS)}
    chosen, token = page(
        names,
        lambda n: (order[n],),
        action="ListAccountSettings",
        max_results=max_results or MAX_RESULTS,
        next_token=request.get("nextToken"),
    )
    response: dict[str, Any] = {"settings": [setting(n, account_id) for n in chosen]}
    if token:
        response["nextToken"] = token
    return response


def put_account_setting(request: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """PutAccountSetting / PutAccountSettingDefault: the setting, if ``value`` is the one in
    force; else the refusal that says why it cannot change."""
    name, value = str(request["name"]), str(request["value"])
    if name not in SETTINGS:
        raise invalid_parameter(f"name: {name!r} is not an account setting ecs-facade knows")
    if value not in _VALUES[name]:
        expected = ", ".join(sorted(_VALUES[name]))
        raise invalid_parameter(f"value: {value!r} is not a value of {name}; expected one of {expected}")
    if value == SETTINGS[name]:
        return {"setting": setting(name, account_id)}
    if name in _LONG_ARN:
        raise invalid_parameter("You can no longer disable Long Arn settings.")
    if name in _AWS_MANAGED:
        raise invalid_parameter(f"{name} is managed by the provider and is read-only")
    raise ApiError(
        "UnsupportedFeatureException",
        f"{name}: ecs-facade keeps it {SETTINGS[name]!r} ({_WHY[name]}); {value!r} cannot be set",
    )


def delete_account_setting(request: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """DeleteAccountSetting: back to the default, which is what is always in force."""
    name = str(request["name"])
    if name not in SETTINGS:
        raise invalid_parameter(f"name: {name!r} is not an account setting ecs-facade knows")
    return {"setting": setting(name, account_id)}
