"""The ECS and Application Auto Scaling service models, read from the package at runtime.

botocore is a development dependency only; hack/gen_ecs_api_model.py writes the parts of
its models the API needs into models/*.json, and a unit test keeps them current.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

ECS = "ecs"
APPLICATION_AUTOSCALING = "application-autoscaling"
SERVICES = (ECS, APPLICATION_AUTOSCALING)

# The error each service answers for a request that does not match its model: ECS says
# InvalidParameterException for bad parameters, Application Auto Scaling ValidationException.
VALIDATION_ERRORS = {ECS: "InvalidParameterException", APPLICATION_AUTOSCALING: "ValidationException"}
# What each answers for a failure on the server (500): ECS models ServerException as a fault.
SERVER_ERRORS = {ECS: "ServerException", APPLICATION_AUTOSCALING: "InternalServiceException"}


@dataclass(frozen=True)
class Operation:
    name: str
    input: str | None
    output: str | None
    errors: tuple[str, ...]
    # botocore's paginator: input_token, output_token, limit_key, result_key (ECS: nextToken,
    # nextToken, maxResults, e.g. clusterArns); None for an operation that does not page
    pagination: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ServiceModel:
    """One service: its X-Amz-Target prefix, SigV4 signing name, operations and shapes."""

    service: str
    source: str
    target_prefix: str
    signing_name: str
    operations: Mapping[str, Operation]
    shapes: Mapping[str, Mapping[str, Any]]

    @property
    def validation_error(self) -> str:
        return VALIDATION_ERRORS[self.service]

    @property
    def server_error(self) -> str:
        return SERVER_ERRORS[self.service]

    def error_status(self, name: str) -> int | None:
        """The HTTP status of a modelled error: the model's httpStatusCode, else 500 for a
        fault and 400 for a client error (botocore's ECS model gives no codes); None if the
        model has no such error."""
        shape = self.shapes.get(name)
        if shape is None or not shape.get("exception"):
            return None
        code = shape.get("error", {}).get("httpStatusCode")
        if isinstance(code, int):
            return code
        return 500 if shape.get("fault") else 400


def parse_model(service: str, raw: Mapping[str, Any]) -> ServiceModel:
    operations = {
        name: Operation(name, op.get("input"), op.get("output"), tuple(op.get("errors", ())), op.get("pagination"))
        for name, op in raw["operations"].items()
    }
    metadata = raw["metadata"]
    return ServiceModel(
        service=service,
        source=str(raw.get("source", "")),
        target_prefix=str(metadata["targetPrefix"]),
        signing_name=str(metadata["signingName"]),
        operations=operations,
        shapes=raw["shapes"],
    )


@functools.cache
def load(service: str) -> ServiceModel:
    """The packaged model of `service` (ecs or application-autoscaling), read once."""
    if service not in SERVICES:
        raise ValueError(f"no packaged model for {service!r}; expected one of {', '.join(SERVICES)}")
    text = resources.files(__package__).joinpath("models", f"{service}.json").read_text()
    return parse_model(service, json.loads(text))
