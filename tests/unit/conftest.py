"""Unit tests run the controllers without an operator's start-up: they get the default settings."""

from collections.abc import Iterator

import pytest

from ecs_facade import config


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    """The settings the operator loads at start-up (config.load), as their defaults; a test
    changes one with config.replace."""
    config.use(config.Config())
    yield
    config.use(None)
