"""The Kubernetes permissions the operator uses: the one source of the Helm chart's RBAC.

`hack/gen_crds.py` writes these rules into the chart (charts/ecs-facade/files/rbac-rules.yaml)
and tests/unit/test_rbac.py checks them against what the code registers with kopf; the e2e
suite runs the operator with exactly these rights (tests/e2e/conftest.py) and shows that
others are denied. Every verb here is one the code calls; server-side apply is ``patch``, and ``create``
as well when the apply creates the object.
"""

from typing import Final

from ecs_facade.api import GROUP

Rule = dict[str, list[str]]

WATCH: Final = ["get", "list", "watch"]
# server-side apply is a PATCH, and an apply that creates the object needs create as well
APPLY: Final = ["patch", "create"]
# kopf adds its finalizer and progress annotations with PATCH; status is a subresource
KOPF_HANDLED: Final = [*WATCH, "patch"]


def rule(group: str, resources: list[str], verbs: list[str]) -> Rule:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs}


# Objects of the namespaces the operator watches: granted cluster-wide with a ClusterRole, or
# per watched namespace with Roles.
NAMESPACED: Final[list[Rule]] = [
    rule(GROUP, ["ecstaskdefinitions", "ecsservices"], KOPF_HANDLED),
    rule(GROUP, ["ecstasks"], [*KOPF_HANDLED, "delete"]),  # stopped tasks expire after their retention
    rule(GROUP, ["ecstaskdefinitions/status", "ecsservices/status", "ecstasks/status"], ["patch"]),
    # task definition revisions
    rule("apps", ["controllerrevisions"], [*WATCH, "create"]),
    # a service's workload, its rollout history and its autoscaler
    # (the client reads back an object its apply created: get)
    rule("apps", ["deployments", "daemonsets"], [*WATCH, *APPLY]),
    rule("apps", ["replicasets"], ["list", "watch"]),
    rule("autoscaling", ["horizontalpodautoscalers"], [*WATCH, *APPLY, "delete"]),
    # budgets and Services: listed (metadata only) to put back one deleted by hand
    rule("policy", ["poddisruptionbudgets"], ["list", *APPLY]),
    # tasks: pods of ECSTasks are applied by the operator; service tasks get their capacity
    # provider (patch), leave DRAINING instances (eviction) and stop (delete)
    rule("", ["pods"], ["list", "watch", *APPLY, "delete"]),
    rule("", ["pods/eviction"], ["create"]),
    rule("", ["services"], ["list", *APPLY]),
    rule("", ["serviceaccounts"], APPLY),
    # a DaemonSet's refused pods are told only by its Events (views/refusals.py): list
    rule("", ["events"], ["list", "create", "patch"]),
]

# Cluster-scoped objects, always with a ClusterRole.
CLUSTER: Final[list[Rule]] = [
    rule(GROUP, ["ecsclusters"], [*KOPF_HANDLED, "create"]),  # the default cluster is created at start-up
    rule(GROUP, ["ecsclusters/status"], ["patch"]),
    rule("", ["nodes"], ["list", "watch", "patch"]),  # container instances: cluster labels, cordon, attributes
    rule("", ["namespaces"], ["list", "watch"]),  # clusters' namespaceSelector
    # kopf notices CRDs installed after it started
    rule("apiextensions.k8s.io", ["customresourcedefinitions"], ["list", "watch"]),
]

# In the operator's own namespace: the leader election Lease of replicas > 1.
LEADER_ELECTION: Final[list[Rule]] = [
    rule("coordination.k8s.io", ["leases"], ["get", "create", "update"]),
    rule("", ["events"], ["create", "patch"]),
]

# The ECS API served by the operator (`ecs-facade run --api`, the chart's api.enabled): what
# its actions (ecsapi/handlers.py, KubeStore) do beyond the operator's own rules above. The
# chart grants them only while the API is served: the operator itself creates, replaces and
# deletes none of these. Namespaced ones are bound like NAMESPACED (cluster-wide, or in each
# watched namespace); cluster-scoped ones with the ClusterRole.
API_NAMESPACED: Final[list[Rule]] = [
    # RegisterTaskDefinition creates the family's object, or replaces it at its resourceVersion
    rule(GROUP, ["ecstaskdefinitions"], ["create", "update"]),
    rule(GROUP, ["ecsservices"], ["create", "delete"]),  # CreateService, DeleteService
    rule(GROUP, ["ecstasks"], ["create"]),  # RunTask
]
API_CLUSTER: Final[list[Rule]] = [
    rule(GROUP, ["ecsclusters"], ["delete"]),  # DeleteCluster
]

ECS_KINDS: Final = ["ecstaskdefinitions", "ecsservices", "ecstasks"]


def aggregated() -> dict[str, list[Rule]]:
    """What the built-in view/edit/admin roles gain for the ECS kinds (namespaced ones;
    ECSClusters are cluster-wide infrastructure, readable by view, written by cluster admins)."""
    status = [f"{kind}/status" for kind in ECS_KINDS]
    read = [rule(GROUP, [*ECS_KINDS, *status, "ecsclusters", "ecsclusters/status"], WATCH)]
    write = [rule(GROUP, ECS_KINDS, ["create", "update", "patch", "delete", "deletecollection"])]
    return {"view": read, "edit": read + write, "admin": read + write}


def all_rules() -> dict[str, list[Rule]]:
    return {
        "namespaced": NAMESPACED,
        "cluster": CLUSTER,
        "leaderElection": LEADER_ELECTION,
        "apiNamespaced": API_NAMESPACED,
        "apiCluster": API_CLUSTER,
        **aggregated(),
    }
