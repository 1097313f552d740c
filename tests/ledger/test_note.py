"""Signing notes: Go's signer-key format and signature vector, and v1 cosignatures."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.errors import LedgerError
from custodes.ledger.note import (
    cosign_line,
    format_signer_key,
    parse_signer_key,
    sign_line,
    sign_note,
    verifier_for,
)
from custodes.ledger.verify import ALG_COSIGNATURE_V1, VerificationError, open_note, parse_vkey

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"


def test_go_signing_vector_is_reproduced_byte_for_byte() -> None:
    name, key = parse_signer_key(PETER_SKEY)
    assert name == "PeterNeumann"
    assert verifier_for(name, key).vkey == PETER_VKEY
    assert format_signer_key(name, key) == PETER_SKEY
    assert sign_note(TEXT, name, key) == (
        TEXT
        + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    )


def test_every_mangling_of_the_signer_key_is_rejected() -> None:
    manglings = {
        PETER_SKEY[i:j] for i in range(len(PETER_SKEY) + 1) for j in range(i + 1, len(PETER_SKEY) + 1)
    } - {PETER_SKEY}
    manglings |= {
        PETER_SKEY[:i] + chr(ord(PETER_SKEY[i]) + 1) + PETER_SKEY[i + 1 :] for i in range(len(PETER_SKEY))
    }
    accepted = []
    for mangled in manglings:
        try:
            parse_signer_key(mangled)
            accepted.append(mangled)
        except LedgerError:
            pass
    assert accepted == []


def test_a_signer_key_for_another_algorithm_is_rejected() -> None:
    with pytest.raises(LedgerError, match="not an Ed25519 seed"):
        parse_signer_key("PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")


def test_bad_names_and_texts_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(LedgerError, match="cannot name a note key"):
        verifier_for("bad name", key)
    with pytest.raises(LedgerError, match="end in a newline"):
        sign_line("ok", key, "no newline")


def test_cosignature_verifies_with_a_type_4_key_and_binds_the_time() -> None:
    key = Ed25519PrivateKey.generate()
    witness = verifier_for("witness.test/w1", key, ALG_COSIGNATURE_V1)
    assert parse_vkey(witness.vkey) == witness
    line = cosign_line("witness.test/w1", key, TEXT, 1679315147)
    note = open_note((TEXT + "\n" + line).encode(), [witness])
    assert note.signatures[0].name == "witness.test/w1"
    # The same key as a plain Ed25519 (0x01) note key has another key ID: not accepted.
    with pytest.raises(VerificationError, match="no verifiable signatures"):
        open_note((TEXT + "\n" + line).encode(), [verifier_for("witness.test/w1", key)])
    # A cosignature whose timestamp was altered does not verify.
    prefix, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[11] ^= 1
    tampered = f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(VerificationError, match="invalid signature"):
        open_note((TEXT + "\n" + tampered).encode(), [witness])
    # So does one with a timestamp beyond 2**63 - 1, or with a truncated signature.
    raw[4] = 0x80
    for bad in (bytes(raw), bytes(raw[:40])):
        bad_line = f"{prefix} {base64.b64encode(bad).decode()}\n"
        with pytest.raises(VerificationError, match="invalid signature"):
            open_note((TEXT + "\n" + bad_line).encode(), [witness])


def test_cosignature_timestamps_must_be_positive_63_bit() -> None:
    key = Ed25519PrivateKey.generate()
    for ts in (0, 1 << 63):
        with pytest.raises(LedgerError, match="out of range"):
            cosign_line("w", key, TEXT, ts)
