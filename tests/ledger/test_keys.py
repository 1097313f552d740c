"""The log's secrets: created once with mode 0600, loaded back, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from custodes.errors import LedgerError
from custodes.ledger import LedgerKeys, create_keys, load_keys
from custodes.ledger.keys import CUSTODIAN_SECRET_FILE, SIGNING_KEY_FILE, key_dir, load_keys_cached

from .conftest import ORIGIN


def test_keys_are_created_private_and_load_back(home: Path) -> None:
    for name in (SIGNING_KEY_FILE, CUSTODIAN_SECRET_FILE):
        assert stat.S_IMODE((key_dir(home) / name).stat().st_mode) == 0o600
    keys = load_keys(home, ORIGIN)
    assert keys.origin == ORIGIN
    assert len(keys.custodian_secret) == 32
    assert keys.verifier.vkey.startswith(ORIGIN + "+")
    assert "PRIVATE" not in repr(keys)
    assert keys.custodian_secret.hex() not in repr(keys)


def test_existing_keys_are_never_overwritten(home: Path) -> None:
    before = (key_dir(home) / SIGNING_KEY_FILE).read_text()
    with pytest.raises(LedgerError, match="never overwritten") as info:
        create_keys(home, ORIGIN)
    assert isinstance(info.value, FileExistsError)
    assert (key_dir(home) / SIGNING_KEY_FILE).read_text() == before


def test_a_bad_origin_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="cannot name a note key"):
        create_keys(tmp_path, "has space")
    assert not key_dir(tmp_path).exists()


def test_missing_keys_say_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="custodes init") as info:
        load_keys(tmp_path, ORIGIN)
    assert isinstance(info.value, FileNotFoundError)


def test_keys_readable_by_others_are_refused(home: Path) -> None:
    (key_dir(home) / CUSTODIAN_SECRET_FILE).chmod(0o644)
    with pytest.raises(LedgerError, match="chmod 600"):
        load_keys(home, ORIGIN)


def test_keys_of_another_origin_are_refused(home: Path) -> None:
    with pytest.raises(LedgerError, match="set log_origin back"):
        load_keys(home, "other.example/log")


@pytest.mark.parametrize(("content", "message"), [("zz\n", "not hex"), ("abcd\n", "32 bytes")])
def test_a_damaged_custodian_secret_is_refused(home: Path, content: str, message: str) -> None:
    path = key_dir(home) / CUSTODIAN_SECRET_FILE
    path.write_text(content)
    with pytest.raises(LedgerError, match=message):
        load_keys(home, ORIGIN)


def test_ledger_keys_have_the_gateway_shape(keys: LedgerKeys) -> None:
    assert list(LedgerKeys.__dataclass_fields__) == ["origin", "signing_key", "custodian_secret"]
    with pytest.raises(AttributeError):
        keys.origin = "x"  # type: ignore[misc]


def test_cached_keys_are_read_again_when_a_key_file_changes(home: Path) -> None:
    """``load_keys_cached`` (every online group's append) refuses exactly as ``load_keys`` does
    once a file is made readable by others, replaced or removed, and reloads a changed secret."""
    first = load_keys_cached(home, ORIGIN)
    assert load_keys_cached(home, ORIGIN) is first  # unchanged files: not read again
    secret = key_dir(home) / CUSTODIAN_SECRET_FILE
    secret.chmod(0o644)
    with pytest.raises(LedgerError, match="chmod 600"):
        load_keys_cached(home, ORIGIN)
    secret.chmod(0o600)
    assert load_keys_cached(home, ORIGIN).custodian_secret == first.custodian_secret
    # a new secret in a new file (another inode): the new one is used
    replacement = secret.with_name("new.secret")
    replacement.write_text("ab" * 32 + "\n")
    replacement.chmod(0o600)
    replacement.replace(secret)
    assert load_keys_cached(home, ORIGIN).custodian_secret == bytes.fromhex("ab" * 32)
    with pytest.raises(LedgerError, match="set log_origin back"):
        load_keys_cached(home, "other.example/log")
    secret.unlink()
    with pytest.raises(LedgerError, match="custodes init"):
        load_keys_cached(home, ORIGIN)
