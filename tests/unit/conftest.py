"""Unit tests run the controllers without an operator's start-up: each that needs the
operator's state (controllers/state.py) builds a fresh one, with the default settings."""

import pytest

from ecs_facade.config import Config
from ecs_facade.controllers.state import OperatorState


@pytest.fixture
def state() -> OperatorState:
    """What the operator's start-up makes (controllers/settings.py, read_settings): the
    default settings and no memory; a test changes a setting by replacing ``state.config``."""
    return OperatorState(config=Config())
