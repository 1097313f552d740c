"""The one configuration object: witness settings from custodes.toml and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.config import Settings, WitnessingConfig, WitnessPeer, WitnessServerConfig, load_settings
from custodes.errors import ConfigError
from custodes.ledger.note import verifier_for
from custodes.ledger.verify import ALG_COSIGNATURE_V1, ALG_ED25519

# fixed seeds, not generated keys: the keys appear in parametrised test ids, which must be the same in
# every process that collects them (pytest-xdist's workers compare their collections)
COSIGNER = verifier_for(
    "oversight.example/w1", Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32), ALG_COSIGNATURE_V1
).vkey
OTHER = verifier_for(
    "court.example/witness", Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32), ALG_COSIGNATURE_V1
).vkey
LOG = verifier_for(
    "custodes.example/log", Ed25519PrivateKey.from_private_bytes(bytes([3]) * 32), ALG_ED25519
).vkey


def _load(tmp_path: Path, toml: str, **env: str) -> Settings:
    (tmp_path / "custodes.toml").write_text(toml, encoding="utf-8")
    return load_settings({"CUSTODES_HOME": str(tmp_path), **env})


def test_without_witness_settings_nothing_is_witnessed(tmp_path: Path) -> None:
    settings = load_settings({"CUSTODES_HOME": str(tmp_path)})
    assert settings.witnessing == WitnessingConfig((), 0)
    assert settings.witness == WitnessServerConfig("", (), "")


def test_witnesses_and_the_witness_server_come_from_the_toml_file(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        f"""
[witnessing]
quorum = 1
witnesses = [
  {{ key = "{COSIGNER}", url = "https://w1.oversight.example/" }},
  {{ key = "{OTHER}", url = "http://witness.court.example/submit" }},
]

[witness]
name = "oversight.example/w1"
logs = ["{LOG}"]
state_dir = "/var/lib/witness"
""",
    )
    assert settings.witnessing == WitnessingConfig(
        (
            WitnessPeer(COSIGNER, "https://w1.oversight.example"),
            WitnessPeer(OTHER, "http://witness.court.example/submit"),
        ),
        quorum=1,
    )
    assert settings.witness == WitnessServerConfig("oversight.example/w1", (LOG,), "/var/lib/witness")


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        f'[witnessing]\nwitnesses = [{{key = "{COSIGNER}", url = "https://a"}}]\n[witness]\nname = "a"\n',
        CUSTODES_WITNESSES=f"{COSIGNER} https://b/\n{OTHER}  https://c",
        CUSTODES_WITNESS_QUORUM="2",
        CUSTODES_WITNESS_NAME="oversight.example/w2",
        CUSTODES_WITNESS_LOGS=f"{LOG} {LOG}",
        CUSTODES_WITNESS_STATE_DIR="/srv/w",
    )
    assert settings.witnessing == WitnessingConfig(
        (WitnessPeer(COSIGNER, "https://b"), WitnessPeer(OTHER, "https://c")), quorum=2
    )
    assert settings.witness == WitnessServerConfig("oversight.example/w2", (LOG, LOG), "/srv/w")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("witnessing = 3\n", "witnessing must be a table"),
        ("[witnessing]\nwitness = []\n", "unknown keys ['witness'] in [witnessing]"),
        ("[witnessing]\nwitnesses = ['x']\n", "witnesses must be a list of {key"),
        ('[witnessing]\nwitnesses = [{key = "x"}]\n', "witnesses must be a list of {key"),
        ('[witnessing]\nwitnesses = [{key = "x", url = "https://w"}]\n', "witness key 'x': malformed"),
        (f'[witnessing]\nwitnesses = [{{key = "{LOG}", url = "https://w"}}]\n', "not a cosignature key"),
        (f'[witnessing]\nwitnesses = [{{key = "{COSIGNER}", url = "ftp://w"}}]\n', "must start with http"),
        (f'[witnessing]\nquorum = 2\nwitnesses = [{{key = "{COSIGNER}", url = "https://w"}}]\n', "quorum 2"),
        ("[witnessing]\nquorum = -1\n", "quorum -1 needs between 0 (all) and 0"),
        ("[witnessing]\nquorum = true\n", "must be an integer"),
        ("[witness]\nport = 1\n", "unknown keys ['port'] in [witness]"),
        ("[witness]\nname = 3\n", "[witness] name must be a string"),
        ("[witness]\nlogs = [3]\n", "[witness] logs must be a list of strings"),
        (f'[witness]\nlogs = ["{COSIGNER}"]\n', "not an Ed25519 log key"),
        ('[witness]\nlogs = ["nonsense"]\n', "witnessed log key 'nonsense': malformed"),
    ],
)
def test_bad_witness_settings_are_refused_naming_the_file(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"custodes\.toml") as info:
        _load(tmp_path, toml)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CUSTODES_WITNESSES": COSIGNER}, "pairs of '<vkey> <url>'"),
        ({"CUSTODES_WITNESSES": f"{COSIGNER} w.example"}, "must start with http"),
        ({"CUSTODES_WITNESS_QUORUM": "two"}, "must be a whole number"),
        ({"CUSTODES_WITNESS_QUORUM": "1"}, "the environment (CUSTODES_WITNESSES, CUSTODES_WITNESS_QUORUM)"),
        ({"CUSTODES_WITNESS_LOGS": "nonsense"}, "the environment (CUSTODES_WITNESS_LOGS)"),
    ],
)
def test_bad_witness_environment_is_refused(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"CUSTODES_HOME": str(tmp_path), **env})
    assert message in str(info.value)


@pytest.mark.parametrize("value", ["0", "-1", '"two"', "1.5", "true"])
def test_server_processes_must_be_a_whole_number_of_at_least_one(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"\[service\] workers") as info:
        _load(tmp_path, f"[service]\nworkers = {value}\n")
    assert info.value.file is not None
    assert info.value.file.endswith("custodes.toml")
    assert info.value.hint is not None
    assert "at least 1" in info.value.hint


def test_the_decider_is_on_unless_the_file_says_false_and_its_socket_comes_only_from_serve(
    tmp_path: Path,
) -> None:
    assert _load(tmp_path, "").service.decider is True
    assert _load(tmp_path, "[service]\ndecider = false\n").service.decider is False
    with pytest.raises(ConfigError, match=r"\[service\] decider = 'yes' is not true or false"):
        _load(tmp_path, '[service]\ndecider = "yes"\n')
    with pytest.raises(ConfigError, match="unknown keys \\['decider_socket'\\] in \\[service\\]"):
        _load(tmp_path, '[service]\ndecider_socket = "/tmp/x.sock"\n')
    assert _load(tmp_path, "").service.decider_socket is None
    assert _load(tmp_path, "", CUSTODES_DECIDER_SOCKET="/run/d.sock").service.decider_socket == "/run/d.sock"


def test_server_processes_come_from_the_toml_file(tmp_path: Path) -> None:
    assert _load(tmp_path, "[service]\nworkers = 2\n").service.workers == 2
    assert _load(tmp_path, "").service.workers == 1
