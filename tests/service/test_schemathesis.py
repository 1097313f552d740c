"""Property-based API tests from /openapi.json: no 5xx on any generated request, responses as documented."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from custodes import Settings
from custodes.config import ServiceConfig
from custodes.service.api import create_app
from custodes.store import upgrade
from tests.service.conftest import populate

EXAMPLES = 20
"""Generated requests per operation: bounded so that `make test` stays fast."""
AUTH: dict[str, str] = {}
"""The DHS submitter's key, set by the fixture: generated requests pass authentication."""


_ROOT = Path(tempfile.mkdtemp(prefix="custodes-schemathesis-"))
SETTINGS = Settings(home=_ROOT / "home", service=ServiceConfig(max_upload_bytes=100_000))
APP = create_app(SETTINGS, worker=False)
api = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _service_store(template_home: Path) -> Iterator[None]:
    """The app's home (index and ledger keys), store and people, before the first generated request."""
    shutil.copytree(template_home, SETTINGS.home, dirs_exist_ok=True)
    upgrade(SETTINGS.store_url)
    keys = populate(APP.state.desk)
    AUTH["Authorization"] = f"Bearer {keys['dhs']}"
    yield
    APP.state.desk.gateway.close()
    shutil.rmtree(_ROOT, ignore_errors=True)


@api.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(case: schemathesis.Case) -> None:
    response = case.call(headers=AUTH)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
