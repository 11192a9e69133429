"""The ECS CreateService request an ECSService holds, and the values ECS fills in when unset.

``ServiceSpec`` is the model generated from botocore (``model/generated.py``). The CRD
defaults ``cluster`` on the API server and the model has the same default. The
deployment percentages are not defaulted anywhere: ECS's defaults depend on
``schedulingStrategy`` (200/100 for REPLICA, 100/0 for DAEMON, which rejects a
maximumPercent above 100), so read them through the helpers here, which also work on
raw dicts validated in unit tests.
"""

from ecs_facade.model.generated import CreateServiceRequest, DeploymentConfiguration

__all__ = [
    "DAEMON",
    "DEFAULT_CLUSTER",
    "REPLICA",
    "DeploymentConfiguration",
    "ServiceSpec",
    "deployment_blocked_reason",
    "desired_count",
    "is_daemon",
    "maximum_percent",
    "minimum_healthy_percent",
    "scheduling_strategy",
]

ServiceSpec = CreateServiceRequest

DEFAULT_CLUSTER = "default"
REPLICA = "REPLICA"
DAEMON = "DAEMON"

# ECS's values when deploymentConfiguration leaves them out: (maximumPercent, minimumHealthyPercent)
_DEFAULT_PERCENTS = {REPLICA: (200, 100), DAEMON: (100, 0)}


def scheduling_strategy(spec: ServiceSpec) -> str:
    """REPLICA or DAEMON; REPLICA when unset, as in ECS."""
    return spec.schedulingStrategy or REPLICA


def is_daemon(spec: ServiceSpec) -> bool:
    return scheduling_strategy(spec) == DAEMON


def desired_count(spec: ServiceSpec) -> int:
    """desiredCount, 0 when unset (the CRD requires it unless schedulingStrategy is DAEMON)."""
    return spec.desiredCount if spec.desiredCount is not None else 0


def maximum_percent(spec: ServiceSpec) -> int:
    """deploymentConfiguration.maximumPercent, or ECS's default: 200 for REPLICA, 100 for DAEMON."""
    config = spec.deploymentConfiguration
    if config is not None and config.maximumPercent is not None:
        return config.maximumPercent
    return _DEFAULT_PERCENTS[scheduling_strategy(spec)][0]


def minimum_healthy_percent(spec: ServiceSpec) -> int:
    """deploymentConfiguration.minimumHealthyPercent, or ECS's default: 100 for REPLICA, 0 for DAEMON."""
    config = spec.deploymentConfiguration
    if config is not None and config.minimumHealthyPercent is not None:
        return config.minimumHealthyPercent
    return _DEFAULT_PERCENTS[scheduling_strategy(spec)][1]


def deployment_blocked_reason(spec: ServiceSpec) -> str | None:
    """Why a rolling deployment of a REPLICA service can never make progress, or None.

    ECS may run at most floor(desiredCount * maximumPercent / 100) tasks and must keep
    ceil(desiredCount * minimumHealthyPercent / 100) running. If the first is not above
    desiredCount and the second not below it, it can neither start a new task nor stop
    an old one (e.g. 100/100, or one task with 150/100). ECS and the CRD accept such a
    spec, so the operator reports it instead.
    """
    desired = desired_count(spec)
    if is_daemon(spec) or desired == 0:
        return None
    maximum, minimum = maximum_percent(spec), minimum_healthy_percent(spec)
    most = desired * maximum // 100
    least = -(-desired * minimum // 100)  # ceil, in integers
    if most > desired or least < desired:
        return None
    return (
        f"deploymentConfiguration allows neither starting a new task (maximumPercent {maximum}% of"
        f" {desired} is {most}) nor stopping an old one (minimumHealthyPercent {minimum}% of {desired}"
        f" is {least}): raise maximumPercent or lower minimumHealthyPercent"
    )
