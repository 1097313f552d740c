"""docs/oversight.md's scenario, run word for word: a bad batch, found, reported and stopped."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from custodes.cli import _mount_optional, app

DOC = Path(__file__).resolve().parents[2] / "docs" / "oversight.md"
BLOCK = re.compile(r"```(console|toml)\n(.*?)```", re.DOTALL)


def scenario_steps() -> list[tuple[str, str]]:
    """("file", "path\\ncontent") and ("run", "command line") steps of the scenario section, in order."""
    text = DOC.read_text(encoding="utf-8").split("## Scenario", 1)[1]
    steps: list[tuple[str, str]] = []
    for kind, body in BLOCK.findall(text):
        if kind == "toml":
            first, _, rest = body.partition("\n")
            assert first.startswith("# file: "), "every TOML block of the scenario names its file"
            steps.append(("file", first.removeprefix("# file: ") + "\n" + rest))
        else:
            steps += [("run", line.removeprefix("$ ")) for line in body.splitlines() if line.startswith("$ ")]
    return steps


def test_the_scenario_runs_as_documented(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mount_optional()
    monkeypatch.chdir(tmp_path)
    env = {"CUSTODES_HOME": "home", "CUSTODES_DATABASE_URL": store_url}
    runner = CliRunner()
    outputs: dict[str, str] = {}
    for kind, body in scenario_steps():
        if kind == "file":
            name, _, content = body.partition("\n")
            Path(name).parent.mkdir(parents=True, exist_ok=True)
            Path(name).write_text(content, encoding="utf-8")
            continue
        argv = shlex.split(body)
        assert argv[0] == "custodes"
        result = runner.invoke(app, argv[1:], env=env)
        assert result.exit_code == 0, f"{body}\n{result.stdout}\n{result.stderr}\n{result.exception!r}"
        outputs[argv[1]] = result.stdout

    # 1. the batch went out under the weak rule: placeholder streets matched
    truth = pl.read_csv("data/truth.csv", infer_schema=False)
    first = pl.read_parquet("out/batch1/decisions.parquet").join(truth, on="request_id")
    placeholder_matches = set(
        first.filter((pl.col("outcome") == "match") & (pl.col("expected_reason") == "placeholder_address"))[
            "request_id"
        ]
    )
    assert placeholder_matches, "the weakened rule let placeholder-address requests match"

    # 3. remediation finds exactly those disclosures, and 4. the exposure at $1,000 per act
    report = json.loads(Path("out/remediation/remediation.json").read_text())
    assert {f["request_id"] for f in report["findings"]} == placeholder_matches
    assert {f["replay_reason"] for f in report["findings"]} == {"placeholder_address"}
    assert report["exposure_usd"] == 1000 * len(placeholder_matches)
    assert report["by_agency"][0]["agency"] == "Department of Homeland Security"
    assert all(re.fullmatch(r"\*\*\*-\*\*-\d{4}", f["tin"]) for f in report["findings"])
    assert report["ledger_index"] is not None
    html = Path("out/remediation/remediation.html").read_text()
    assert "<svg" in html
    assert "<script" not in html
    assert "http" not in html.replace("http://www.w3.org/2000/svg", ""), "nothing is fetched from elsewhere"
    assert f"${report['exposure_usd']:,}" in html
    tins = set(pl.read_parquet("data/master.parquet")["tin"])
    for page in ("out/batch1.html", "out/remediation/remediation.html", "out/remediation/remediation.csv"):
        text = Path(page).read_text()
        assert not tins & set(re.findall(r"\d{9}", text)), f"a TIN in clear in {page}"
    assert "missing_address" in Path("out/batch1.html").read_text(), "the refused rows are listed for review"
    aggregate = json.loads(Path("out/aggregate.json").read_text())
    assert aggregate["requests"] == 400
    assert aggregate["remediations"][0]["affected"] == len(placeholder_matches)
    assert aggregate["ledger_check"]["mismatched"] == []

    # 5./6. the basis is suspended and the next batch refused whole
    second = pl.read_parquet("out/batch2/decisions.parquet")
    assert set(second["outcome"]) == {"refused"}
    assert set(second["reason"]) == {"basis_suspended"}
    batch2 = json.loads(Path("out/batch2.json").read_text())
    assert batch2["batch_reason"] == "basis_suspended"
    assert {c["element"]: c["passed"] for c in batch2["legal_checks"]}["basis_suspended"] is False
    assert "held batches: SYNTH-3-400" in outputs["basis"]
