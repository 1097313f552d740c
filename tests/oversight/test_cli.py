"""The oversight commands a user types that the scenario does not: list, lift, dry runs, notice files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from custodes import Gateway, UserInputError
from custodes.cli import _mount_optional, app
from tests.oversight.conftest import submit

ROWS = [["R1", "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""]]
SUSPEND = ["basis", "suspend", "--agency", "Department of Justice", "--reason", "misuse", "--reference", "R-1",
           "--by", "J. Doe"]  # fmt: skip


def test_suspend_list_lift_policy_and_a_dry_run_remediation(gateway: Gateway, tmp_path: Path) -> None:
    _mount_optional()
    submit(gateway, tmp_path, "B-1", ROWS)
    env = {"CUSTODES_HOME": str(gateway.settings.home), "CUSTODES_DATABASE_URL": gateway.settings.store_url}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, f"{args}: {result.stdout} {result.stderr} {result.exception!r}"
        return " ".join(result.stdout.split())

    assert "held batches: none" in run(*SUSPEND)
    assert "in force" in run("basis", "list", "--active")
    assert "lifted" in run(
        "basis", "lift", "1", "--reason", "plan accepted", "--reference", "R-2", "--by", "J. Doe"
    )
    assert "in force" not in run("basis", "list", "--active")
    listed = run("policy", "list")
    assert "pol-" in listed
    assert "in force now" in listed

    notice = tmp_path / "notice.csv"
    printed = run("remediate", "--since", "2026-01-01", "--policy-version", "in force", "--out",
                  str(tmp_path / "rem"), "--dry-run", "--notice-file", str(notice))  # fmt: skip
    assert "recorded nothing (dry run)" in printed
    assert "0 of 1 disclosures would not be made today" in printed
    assert json.loads((tmp_path / "rem" / "remediation.json").read_text())["remediation_id"] is None
    assert notice.read_text().splitlines() == ["tin,agency,batch_id,request_id,replay_outcome,replay_reason"]

    result = runner.invoke(
        app, ["remediate", "--policy-version", "in force", "--out", str(tmp_path / "x")], env=env
    )
    assert isinstance(result.exception, UserInputError)
    result = runner.invoke(
        app, ["basis", "suspend", "--reason", "r", "--reference", "x", "--by", "b"], env=env
    )
    assert isinstance(result.exception, UserInputError)
    assert "needs a scope" in str(result.exception)
