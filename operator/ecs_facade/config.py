"""Operator settings, from ECS_FACADE_* environment variables (the Helm chart sets them)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    region: str = "us-east-1"
    account_id: str = "000000000000"
    workers: int = 20
    watch_server_timeout: int = 300

    @classmethod
    def from_env(cls) -> "Config":
        env = os.environ
        return cls(
            region=env.get("ECS_FACADE_REGION", cls.region),
            account_id=env.get("ECS_FACADE_ACCOUNT_ID", cls.account_id),
            workers=int(env.get("ECS_FACADE_WORKERS", cls.workers)),
            watch_server_timeout=int(env.get("ECS_FACADE_WATCH_TIMEOUT_SECONDS", cls.watch_server_timeout)),
        )
