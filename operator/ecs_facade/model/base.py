from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class EcsModel(BaseModel):
    """Base of every ECS shape.

    Real ECS JSON carries explicit ``null`` for absent values; they are dropped before
    validation so that defaults apply (``"essential": null`` means essential).  Unknown
    keys are kept, not rejected: the CRD schema is the gate for those.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data
