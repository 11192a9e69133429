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
CLUSTERS: Final = "ecsclusters"

KIND_TASK_DEFINITION: Final = "ECSTaskDefinition"
KIND_SERVICE: Final = "ECSService"
KIND_TASK: Final = "ECSTask"
KIND_CLUSTER: Final = "ECSCluster"

LABEL_PREFIX: Final = f"{GROUP}/"
LABEL_SERVICE: Final = f"{GROUP}/service"
LABEL_TASK: Final = f"{GROUP}/task"
LABEL_FAMILY: Final = f"{GROUP}/task-definition-family"
# On a task definition's revision (a ControllerRevision): its content's hash, when it was registered
ANNOTATION_CONTENT_HASH: Final = f"{GROUP}/content-hash"
ANNOTATION_REGISTERED_AT: Final = f"{GROUP}/registered-at"
LABEL_CAPACITY_PROVIDER: Final = f"{GROUP}/capacity-provider"
"""On a node: the capacity provider (node group) it belongs to, unless the cluster defines the group
by its own selector. On a task's pod: the capacity provider the task was placed with."""

# Container instances are nodes.
DEFAULT_CLUSTER: Final = "default"
LABEL_CLUSTER: Final = f"{GROUP}/cluster"
"""On a node: the ECS cluster it is a container instance of (ECS_CLUSTER); absent means ``default``."""
LABEL_INSTANCE_STATUS: Final = f"{GROUP}/container-instance-status"
"""On a node: ACTIVE (or absent) or DRAINING, as UpdateContainerInstancesState sets it."""
ANNOTATION_CLUSTER_LABEL_OWNER: Final = f"{GROUP}/cluster-label-set-by"
"""On a node: the ECSCluster whose instanceSelector put the cluster label there (so only that label is removed)."""
ANNOTATION_CORDONED_FOR_DRAIN: Final = f"{GROUP}/cordoned-for-drain"
"""On a node: the operator cordoned it because it is DRAINING (so ACTIVE uncordons only what draining cordoned)."""
CUSTOM_ATTRIBUTE_LABEL_PREFIX: Final = f"{GROUP}/attribute."
"""Node labels holding custom ECS attributes (PutAttributes): ``ecs.facade.dev/attribute.<name>``."""
SCHEDULING_GATE_CAPACITY_PROVIDER: Final = f"{GROUP}/capacity-provider"
"""Scheduling gate on service tasks with a capacity provider strategy, lifted once a provider is chosen."""

LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "ecs-facade"

FIELD_MANAGER: Final = "ecs-facade"

FINALIZER: Final = f"{GROUP}/finalizer"
"""kopf's finalizer, on the objects whose deletion the operator must see: every ECSCluster, and
every ECSTask while it is STOPPED (``ecs-facade remove-finalizers`` removes it once the operator is gone)."""
