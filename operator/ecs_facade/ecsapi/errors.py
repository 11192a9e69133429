"""The one exception handlers raise: an AWS error name (`__type`) and a message.

Clients map `__type` to typed exceptions (botocore's `client.exceptions.ClusterNotFoundException`),
so handlers must raise the names the ECS model defines; the status comes from the model
unless given (protocol errors such as UnknownOperationException are not in the model).
"""

from __future__ import annotations


class ApiError(Exception):
    """An error answered as `{"__type": name, "message": message}` with an HTTP status."""

    def __init__(self, name: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.status = status


# The name the other modules use: an ECS (or Application Auto Scaling) error.
EcsError = ApiError


def cluster_not_found(message: str = "Cluster not found.") -> ApiError:
    return ApiError("ClusterNotFoundException", message)


def service_not_found(message: str = "Service not found.") -> ApiError:
    return ApiError("ServiceNotFoundException", message)


def invalid_parameter(message: str) -> ApiError:
    return ApiError("InvalidParameterException", message)


def client_error(message: str) -> ApiError:
    """ECS's ClientException: the request is wrong in a way not tied to one parameter."""
    return ApiError("ClientException", message)


def access_denied(message: str) -> ApiError:
    return ApiError("AccessDeniedException", message)
