"""``custodes ledger ...`` and ``custodes witness serve``, driven as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from custodes.ledger import LedgerKeys, append_batch, append_event, load_keys, verify
from custodes.ledger import cli as ledger_cli
from custodes.ledger import publish as publish_module
from custodes.ledger.note import verifier_for
from custodes.ledger.verify import ALG_COSIGNATURE_V1, open_note, parse_vkey
from custodes.ledger.witness import Submission, Witness, WitnessStore
from custodes.store import connect, upgrade

from .conftest import ORIGIN, batch_entry, decision

runner = CliRunner()


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    """A custodes home with the store, two batches and an event; the environment to use it."""
    (home / "custodes.toml").write_text(f'log_origin = "{ORIGIN}"\n')
    settings_env = {"CUSTODES_HOME": str(home)}
    url = f"sqlite:///{(home / 'custodes.sqlite').resolve()}"
    upgrade(url)
    engine = connect(url)
    keys = load_keys(home, ORIGIN)
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(40)])
    with engine.begin() as conn:
        append_event(
            conn, keys, {"event": "release", "batch_id": "B1", "request_id": "R0000003", "tin": "000000003"}
        )
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B2"), [decision("B2", i) for i in range(5)])
    engine.dispose()
    return settings_env


def invoke(app: typer.Typer, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = runner.invoke(app, args, env=env)
    return result.exit_code, result.stdout, result.stderr


def _vkey(env: dict[str, str]) -> str:
    code, stdout, _ = invoke(ledger_cli.ledger_app, ["public-key"], env)
    assert code == 0
    return stdout.strip()


def test_public_key_and_checkpoint_verify_together(env: dict[str, str]) -> None:
    vkey = _vkey(env)
    assert parse_vkey(vkey).name == ORIGIN
    code, note, _ = invoke(ledger_cli.ledger_app, ["checkpoint"], env)
    assert code == 0
    assert verify.verify_checkpoint(note, parse_vkey(vkey)).size == 48


def test_prove_output_verifies_with_the_standalone_verifier(env: dict[str, str], tmp_path: Path) -> None:
    code, stdout, _ = invoke(
        ledger_cli.ledger_app, ["prove", "--batch", "B1", "--request-id", "R0000004", "--format", "json"], env
    )
    assert code == 0
    bundle = json.loads(stdout)
    assert set(bundle) == {"leaf_index", "tree_size", "entry_b64", "inclusion_path", "checkpoint"}
    assert all(len(h) == 64 for h in bundle["inclusion_path"])
    (tmp_path / "proof.json").write_text(stdout)
    assert verify.main(["--key", _vkey(env), "proof", str(tmp_path / "proof.json")]) == 0
    code, human, _ = invoke(
        ledger_cli.ledger_app, ["prove", "--batch", "B1", "--request-id", "R0000004", "--format", "text"], env
    )
    assert (code, "entry 4 of a tree of 48" in human) == (0, True)


def test_consistency_output_verifies(env: dict[str, str], tmp_path: Path) -> None:
    code, stdout, _ = invoke(ledger_cli.ledger_app, ["consistency", "--from", "41", "--to", "48"], env)
    assert code == 0
    (tmp_path / "c.json").write_text(stdout)
    assert verify.main(["--key", _vkey(env), "consistency", str(tmp_path / "c.json")]) == 0
    code, human, _ = invoke(ledger_cli.ledger_app, ["consistency", "--from", "41", "--format", "text"], env)
    assert code == 0
    assert "size 41" in human


def test_accounting_lists_the_taxpayers_acts(env: dict[str, str], tmp_path: Path) -> None:
    code, table, _ = invoke(ledger_cli.ledger_app, ["accounting", "--tin", "000-00-0003"], env)
    assert code == 0
    assert "3 acts" in table
    assert "release" in table
    assert "000000003" not in table
    code, stdout, _ = invoke(
        ledger_cli.ledger_app, ["accounting", "--tin", "000000003", "--format", "json"], env
    )
    (tmp_path / "a.json").write_text(stdout)
    assert verify.main(["--key", _vkey(env), "accounting", str(tmp_path / "a.json")]) == 0


def test_audit_passes_then_names_the_first_bad_index(env: dict[str, str], home: Path) -> None:
    code, stdout, _ = invoke(ledger_cli.ledger_app, ["audit"], env)
    assert (code, "audit passed: 48 entries, 3 checkpoints" in stdout) == (0, True)
    engine = connect(f"sqlite:///{home / 'custodes.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_entries WHERE idx = 17"))
    engine.dispose()
    code, _, stderr = invoke(ledger_cli.ledger_app, ["audit"], env)
    assert code == 1
    assert "first bad index 17" in stderr


def test_audit_reports_a_forged_checkpoint_without_an_index(env: dict[str, str], home: Path) -> None:
    engine = connect(f"sqlite:///{home / 'custodes.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_checkpoints SET note = 'x' WHERE size = 41"))
    engine.dispose()
    code, _, stderr = invoke(ledger_cli.ledger_app, ["audit"], env)
    assert code == 1
    assert "checkpoint of tree size 41 is not valid" in stderr


def test_errors_exit_1_and_say_what_to_do(env: dict[str, str], tmp_path: Path) -> None:
    code, _, stderr = invoke(ledger_cli.ledger_app, ["prove", "--batch", "B9", "--request-id", "R"], env)
    assert (code, "no decision" in stderr) == (1, True)
    bare = {"CUSTODES_HOME": str(tmp_path / "nothing")}
    for args in (["checkpoint"], ["public-key"]):
        code, _, stderr = invoke(ledger_cli.ledger_app, args, bare)
        assert code == 1
        assert "custodes init" in stderr


def test_publish_reaches_a_quorum(env: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys: LedgerKeys = load_keys(home, ORIGIN)
    witness = Witness(
        "oversight.test/w", Ed25519PrivateKey.generate(), [keys.verifier], WitnessStore(home / "w")
    )

    def send(url: str, body: bytes) -> Submission:
        assert url == "https://w.example"
        reply = witness.add_checkpoint(body)
        return Submission(reply.status, reply.body)

    monkeypatch.setattr(publish_module, "submit", send)
    with (home / "custodes.toml").open("a") as toml:
        toml.write(
            f'[witnessing]\nquorum = 1\nwitnesses = [{{key = "{witness.verifier.vkey}", url = "https://w.example/"}}]\n'
        )
    code, stdout, _ = invoke(ledger_cli.ledger_app, ["publish"], env)
    assert (code, "final: 1 cosignatures" in stdout) == (0, True)
    assert "cosigned 3 checkpoint(s), up to tree size 48" in stdout
    code, note, _ = invoke(ledger_cli.ledger_app, ["checkpoint"], env)
    assert len(open_note(note.encode(), [keys.verifier, witness.verifier]).signatures) == 2


def test_publish_without_a_quorum_fails(
    env: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish_module, "submit", lambda _url, _body: Submission(503, "down"))
    code, _, stderr = invoke(ledger_cli.ledger_app, ["publish"], env)
    assert (code, "no witnesses are configured" in stderr) == (1, True)
    vkey = verifier_for("oversight.test/w", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1).vkey
    code, _, stderr = invoke(
        ledger_cli.ledger_app, ["publish"], {**env, "CUSTODES_WITNESSES": f"{vkey} https://w.example"}
    )
    assert (code, "not final" in stderr) == (1, True)


def test_a_store_without_ledger_tables_says_run_init(tmp_path: Path) -> None:
    env = {"CUSTODES_HOME": str(tmp_path)}
    code, _, stderr = invoke(ledger_cli.ledger_app, ["checkpoint"], env)
    assert code == 1
    assert "run `custodes init`" in stderr


def test_servers_get_their_apps(env: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_: started.append(app))
    assert invoke(ledger_cli.ledger_app, ["serve", "--port", "0"], env)[0] == 0
    vkey = _vkey(env)
    code, _, stderr = invoke(
        ledger_cli.witness_app,
        ["--name", "oversight.test/w", "--log", vkey, "--state", str(home / "ws")],
        env,
    )
    assert code == 0, stderr
    assert "cosignature key" in stderr
    assert len(started) == 2
    code, _, stderr = invoke(ledger_cli.witness_app, ["--name", "oversight.test/w", "--log", "nonsense"], env)
    assert code == 1
    assert "malformed verifier key" in stderr
    code, _, stderr = invoke(ledger_cli.witness_app, [], env)
    assert (code, "needs a name and at least one log key" in stderr) == (1, True)


def test_the_witness_server_reads_its_settings(
    env: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_: started.append(app))
    vkey = _vkey(env)
    with (home / "custodes.toml").open("a") as toml:
        toml.write(f'[witness]\nname = "oversight.test/w"\nlogs = ["{vkey}"]\nstate_dir = "{home / "ws"}"\n')
    code, _, stderr = invoke(ledger_cli.witness_app, [], env)
    assert code == 0, stderr
    assert "witness oversight.test/w: cosignature key oversight.test/w+" in stderr
    assert (home / "ws" / "witness.key").stat().st_mode & 0o777 == 0o600
    code, _, stderr = invoke(ledger_cli.witness_app, [], {**env, "CUSTODES_WITNESS_NAME": "other.test/w"})
    assert (code, "holds the key of witness 'oversight.test/w'" in stderr) == (1, True)
    (home / "custodes.toml").write_text('[witness]\nlogs = "not a list"\n')
    code, _, stderr = invoke(ledger_cli.witness_app, [], env)
    assert (code, "[witness] logs must be a list of strings" in stderr) == (1, True)


def test_every_command_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "ledger.md").read_text(encoding="utf-8")
    for prefix, app in (
        ("custodes ledger", ledger_cli.ledger_app),
        ("custodes witness", ledger_cli.witness_app),
    ):
        for command in app.registered_commands:
            assert f"`{prefix} {command.name}" in docs, f"{prefix} {command.name} is not in docs/ledger.md"
