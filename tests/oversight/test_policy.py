"""Policy versions, the oversight settings, the weak address check, and migration 0004."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from alembic import command
from sqlalchemy import inspect

from custodes import ConfigError, Settings, UserInputError
from custodes.config import load_settings
from custodes.legal.subjects import check_subject, check_subjects
from custodes.oversight.policy import (
    load_policy,
    policy_document,
    policy_from_file,
    policy_version,
    register_policy,
)
from custodes.store import connect, upgrade
from custodes.store.engine import alembic_config

OVERSIGHT_TABLES = {
    "oversight_suspensions", "oversight_holds", "oversight_policies", "oversight_batch_policies",
    "oversight_budget_queries", "oversight_remediations", "oversight_findings",
}  # fmt: skip


def test_the_policy_version_is_a_digest_of_the_rules_that_decide(tmp_path: Path) -> None:
    base = Settings(home=tmp_path)
    same = Settings(home=tmp_path / "elsewhere", database_url="sqlite:///x", log_origin="other/log")
    assert policy_version(policy_document(base)) == policy_version(policy_document(same))
    weak = replace(base, bases={n: replace(r, address_check="not_blank") for n, r in base.bases.items()})
    stricter = replace(base, linkage=replace(base.linkage, match_threshold=0.999))
    versions = {policy_version(policy_document(s)) for s in (base, weak, stricter)}
    assert len(versions) == 3
    assert all(v.startswith("pol-") and len(v) == 24 for v in versions)


def test_policies_are_stored_once_and_found_by_version_prefix_or_name(tmp_path: Path, store_url: str) -> None:
    upgrade(store_url)
    engine = connect(store_url)
    base = Settings(home=tmp_path)
    weak = replace(base, bases={n: replace(r, address_check="not_blank") for n, r in base.bases.items()})
    with engine.begin() as conn:
        first = register_policy(conn, base, "in force")
        assert register_policy(conn, base, "again") == first
        second = register_policy(conn, weak, "2025 rule")
    with engine.connect() as conn:
        assert load_policy(conn, base, first)[0] == first
        version, settings = load_policy(conn, base, "2025 rule")
        assert version == second
        assert {r.address_check for r in settings.bases.values()} == {"not_blank"}
        assert settings.home == base.home
        with pytest.raises(UserInputError, match="is ambiguous"):
            load_policy(conn, base, "pol-")
    engine.dispose()


def test_a_policy_file_holds_only_policy_tables(tmp_path: Path) -> None:
    good = tmp_path / "corrected.toml"
    good.write_text('[bases."26 USC 6103(i)(2)"]\naddress_check = "deliverable"\n[linkage]\nmargin = 9.0\n')
    settings = policy_from_file(Settings(home=tmp_path), good)
    assert settings.linkage.margin == 9.0
    bad = tmp_path / "bad.toml"
    bad.write_text('database_url = "sqlite:///x"\n')
    with pytest.raises(ConfigError, match="not policy"):
        policy_from_file(Settings(home=tmp_path), bad)
    with pytest.raises(UserInputError, match="cannot read"):
        policy_from_file(Settings(home=tmp_path), tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[budgets]\nsubject_limit = -1\n", "wrong type"),
        ("[budgets]\nwindow = 3\n", "unknown keys"),
        ("[oversight]\nhold_unreleased = 1\n", "wrong type"),
        ('[budgets]\nagency_daily_caps = { "X" = "many" }\n', "wrong type"),
        ('[bases."26 USC 6103(i)(2)"]\naddress_check = "lenient"\n', "address_check"),
    ],
)
def test_bad_oversight_settings_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "custodes.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings({"CUSTODES_HOME": str(tmp_path)})


def test_oversight_settings_are_read_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "custodes.toml").write_text(
        '[budgets]\nsubject_limit = 5\ndaily_cap = 10\nagency_daily_caps = { "DOJ" = 2 }\n'
        "[oversight]\nhold_unreleased = false\ndamages_per_act = 5000\n"
    )
    settings = load_settings({"CUSTODES_HOME": str(tmp_path)})
    assert (
        settings.budgets.subject_limit,
        settings.budgets.cap_for("DOJ"),
        settings.budgets.cap_for("X"),
    ) == (5, 2, 10)
    assert (settings.oversight.hold_unreleased, settings.oversight.damages_per_act) == (False, 5000)


def test_the_not_blank_check_is_decided_alike_by_the_vectorised_rule_and_cedar() -> None:
    strict = Settings().bases["26 USC 6103(i)(2)"]
    weak = replace(strict, address_check="not_blank")
    streets = ["Failed to Provide", "00000", "12 Elm St", "", None, "General Delivery"]
    rows = [
        {"first_name": "Ann", "last_name": "Lee", "street": s, "tin": None, "case_reference": None}
        for s in streets
    ]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.Utf8))
    for basis in (strict, weak):
        vectorised = check_subjects(frame, basis).to_list()
        assert vectorised == [None if (r := check_subject(row, basis)) is None else r.value for row in rows]
    assert check_subjects(frame, weak).to_list() == [
        None,
        None,
        None,
        "missing_address",
        "missing_address",
        None,
    ]
    assert check_subjects(frame, strict).to_list()[0] == "placeholder_address"


def test_migration_0004_downgrades_and_upgrades(store_url: str) -> None:
    upgrade(store_url)
    engine = connect(store_url)
    assert set(inspect(engine).get_table_names()) >= OVERSIGHT_TABLES
    command.downgrade(alembic_config(store_url), "0002")
    assert not OVERSIGHT_TABLES & set(inspect(engine).get_table_names())
    upgrade(store_url)
    assert set(inspect(engine).get_table_names()) >= OVERSIGHT_TABLES
    engine.dispose()
