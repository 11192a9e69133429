"""ECSTaskDefinition: a task definition appearing or changing re-reconciles the services using it."""

from typing import Any

import kopf

from ecs_facade.api import GROUP, TASK_DEFINITIONS, VERSION
from ecs_facade.controllers import service as service_controller
from ecs_facade.controllers.indexes import family_of


@kopf.on.resume(GROUP, VERSION, TASK_DEFINITIONS)
@kopf.on.create(GROUP, VERSION, TASK_DEFINITIONS)
@kopf.on.update(GROUP, VERSION, TASK_DEFINITIONS, field="spec")  # type: ignore[arg-type]  # index kwargs
def task_definition_changed(
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    services: kopf.Index[Any, Any],
    services_by_family: kopf.Index[Any, Any],
    task_definitions: kopf.Index[Any, Any],
    logger: service_controller.Logger,
    **_: Any,
) -> None:
    namespace = namespace or ""
    for service_name in sorted(set(services_by_family.get((namespace, family_of(name, spec)), []))):
        service_controller.reconcile(namespace, service_name, services, task_definitions, logger)
