"""The service's documentation matches the code: config fields, problem types, Cedar rules."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from custodes.config import ServiceConfig
from custodes.service.authz import shipped_policy
from custodes.service.problems import PROBLEMS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_service_setting_is_documented_in_the_user_guide() -> None:
    guide = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    # decider_socket is set by `custodes serve` through the environment, never in the file
    assert "CUSTODES_DECIDER_SOCKET" in guide
    toml_keys = [f.name for f in fields(ServiceConfig) if f.name != "decider_socket"]
    assert [name for name in toml_keys if f"{name} =" not in guide] == []


def test_every_problem_type_and_policy_rule_is_documented() -> None:
    text = (DOCS / "service.md").read_text(encoding="utf-8")
    assert [slug for slug in PROBLEMS if f"`{slug}`" not in text] == []
    assert [rule for rule in shipped_policy().order if f"`{rule}`" not in text] == []
