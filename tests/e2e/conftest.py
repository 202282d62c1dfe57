"""The end-to-end tests use the runtime's fixtures: a portal the agents reach, a clean swarm."""
from tests.runtime.conftest import agent_portal, torn_down  # noqa: F401 - fixtures
