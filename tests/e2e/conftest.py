"""End-to-end fixtures: the service's session-wide matching index and ledger keys."""

from tests.service.conftest import template_home  # noqa: F401 - re-exported fixture
