"""Documentation that must match the code (the datasette habit): every command and config key."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import typer.main

from custodes.cli import _mount_optional, app
from custodes.config import (
    BasisRule,
    BudgetConfig,
    LinkageConfig,
    OversightConfig,
    WitnessingConfig,
    WitnessPeer,
    WitnessServerConfig,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _command_paths(group: typer.Typer, prefix: str = "custodes") -> list[str]:
    command = typer.main.get_command(group)
    out: list[str] = []

    def walk(cmd: object, path: str) -> None:
        subcommands = getattr(cmd, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, f"{path} {name}")
        else:
            out.append(path)

    walk(command, prefix)
    return out


def test_every_command_is_documented_in_the_user_guide() -> None:
    _mount_optional()
    guide = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    missing = [path for path in _command_paths(app) if f"`{path}" not in guide]
    assert missing == [], f"undocumented commands: {missing}"


def test_every_linkage_setting_is_documented() -> None:
    guide = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(LinkageConfig) if f.name not in guide]
    assert missing == []


def test_every_witness_setting_and_variable_is_documented() -> None:
    guide = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    names = [
        f"[{table}] {f.name}" if table == "witnessing" else f"`{f.name}`"
        for table, kind in (("witnessing", WitnessingConfig), ("witness", WitnessServerConfig))
        for f in fields(kind)
    ]
    names += [f"`{f.name}`" for f in fields(WitnessPeer)]
    names += [
        "CUSTODES_WITNESSES",
        "CUSTODES_WITNESS_QUORUM",
        "CUSTODES_WITNESS_NAME",
        "CUSTODES_WITNESS_LOGS",
        "CUSTODES_WITNESS_STATE_DIR",
    ]
    assert [name for name in names if name not in guide] == []


def test_every_budget_and_oversight_setting_is_documented() -> None:
    guide = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    names = [
        f.name
        for kind in (BudgetConfig, OversightConfig, BasisRule)
        for f in fields(kind)
        if f.name != "name"
    ]
    assert [n for n in names if n not in guide] == []
