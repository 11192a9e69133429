"""Names of the ecs-facade API: group, version, kinds and the labels it puts on children.

Kept in one module so that translators, views, controllers and tests agree on them.
"""

from typing import Final

GROUP: Final = "ecs.facade.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

TASK_DEFINITIONS: Final = "ecstaskdefinitions"
SERVICES: Final = "ecsservices"
TASKS: Final = "ecstasks"

KIND_TASK_DEFINITION: Final = "ECSTaskDefinition"
KIND_SERVICE: Final = "ECSService"
KIND_TASK: Final = "ECSTask"

LABEL_PREFIX: Final = f"{GROUP}/"
LABEL_SERVICE: Final = f"{GROUP}/service"
LABEL_TASK: Final = f"{GROUP}/task"
LABEL_FAMILY: Final = f"{GROUP}/task-definition-family"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "ecs-facade"

FIELD_MANAGER: Final = "ecs-facade"
