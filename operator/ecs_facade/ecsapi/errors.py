"""ECS's modelled errors: clients map ``__type`` to a typed exception (boto3's
``ClusterNotFoundException``), so each refusal names the exception ECS would raise."""


class EcsError(Exception):
    """An error answered as ``{"__type": name, "message": message}`` with a 4xx status."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def invalid_parameter(message: str) -> EcsError:
    return EcsError("InvalidParameterException", message)


def client_error(message: str) -> EcsError:
    return EcsError("ClientException", message)


def access_denied(message: str) -> EcsError:
    return EcsError("AccessDeniedException", message)


def cluster_not_found() -> EcsError:
    # ECS's own wording
    return EcsError("ClusterNotFoundException", "Cluster not found.")
