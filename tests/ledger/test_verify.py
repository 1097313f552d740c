"""The standalone verifier: published vectors, Go's signed-note tests, bundles, isolation."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.ledger import verify
from custodes.ledger.checkpoint import sign_checkpoint
from custodes.ledger.note import verifier_for
from custodes.ledger.proof import consistency_proof, inclusion_proof
from custodes.ledger.verify import (
    Checkpoint,
    MalformedNoteError,
    NoteSignature,
    VerificationError,
    open_note,
    parse_checkpoint,
    parse_vkey,
    verify_consistency,
    verify_inclusion,
)

from .reference import MemoryNodes, mth

VECTORS = Path(__file__).parent / "vectors" / "merkle"
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _name(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def test_all_published_vectors_are_vendored() -> None:
    assert (len(INCLUSION), len(CONSISTENCY)) == (98, 98)
    wanted_ok = [json.loads(p.read_text())["wantErr"] for p in INCLUSION + CONSISTENCY].count(False)
    assert wanted_ok == 12


@pytest.mark.parametrize("path", INCLUSION, ids=_name)
def test_inclusion_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b64(p) for p in case["proof"] or []]
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_name)
def test_consistency_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b64(p) for p in case["proof"] or []]
    args = (case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_proof_elements_of_the_wrong_length_are_rejected() -> None:
    with pytest.raises(VerificationError, match="proof element"):
        verify_inclusion(b"\0" * 32, 0, 2, [b"\0" * 31], b"\0" * 32)


# --- signed notes: golang.org/x/mod/sumdb/note note_test.go -------------------------------

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
PETER = NoteSignature(
    "PeterNeumann",
    0xC74F20A3,
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
)
ENOCH = NoteSignature(
    "EnochRoot",
    0xAF0CFE78,
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
)


def _insert_abcd(line: str) -> bytes:
    """Go's ``sig[:60] + "ABCD" + sig[60:]``, on bytes."""
    raw = line.encode()
    return raw[:60] + b"ABCD" + raw[60:]


def test_vkey_parses_and_every_mangling_is_rejected() -> None:
    verifier = parse_vkey(PETER_VKEY)
    assert (verifier.name, verifier.key_id, verifier.vkey) == ("PeterNeumann", 0xC74F20A3, PETER_VKEY)
    manglings = {
        PETER_VKEY[i:j] for i in range(len(PETER_VKEY) + 1) for j in range(i + 1, len(PETER_VKEY) + 1)
    } - {PETER_VKEY}
    manglings |= {
        PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :] for i in range(len(PETER_VKEY))
    }
    manglings |= {
        # wrong length key, with adjusted key hash; unknown algorithm, with adjusted key hash
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    }
    accepted = []
    for mangled in manglings:
        try:
            parse_vkey(mangled)
            accepted.append(mangled)
        except VerificationError:
            pass
    assert accepted == []


def test_open_keeps_unknown_signatures_as_unverified() -> None:
    msg = (TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode()
    note = open_note(msg, [parse_vkey(PETER_VKEY)])
    assert (note.text, note.signatures, note.unverified) == (TEXT, (PETER,), (ENOCH,))
    both = open_note(msg, [parse_vkey(PETER_VKEY), parse_vkey(ENOCH_VKEY)])
    assert (both.signatures, both.unverified) == ((PETER, ENOCH), ())


def test_open_rejects_a_note_with_no_verifiable_signature() -> None:
    with pytest.raises(VerificationError, match="no verifiable signatures"):
        open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [])


def test_open_rejects_an_ambiguous_key_only_when_it_is_used() -> None:
    enoch, peter = parse_vkey(ENOCH_VKEY), parse_vkey(PETER_VKEY)
    with pytest.raises(VerificationError, match="ambiguous key EnochRoot\\+af0cfe78"):
        open_note((TEXT + "\n" + ENOCH_SIG).encode(), [enoch, peter, enoch])
    assert open_note((TEXT + "\n" + PETER_SIG).encode(), [enoch, peter, enoch]).signatures == (PETER,)


def test_open_rejects_more_than_100_signatures() -> None:
    msg = (TEXT + "\n" + PETER_SIG * 101).encode()
    for verifiers in ([parse_vkey(PETER_VKEY)], []):
        with pytest.raises(MalformedNoteError):
            open_note(msg, verifiers)


def test_open_rejects_a_failing_signature_by_a_known_key() -> None:
    msg = (TEXT + "\n").encode() + _insert_abcd(PETER_SIG)
    with pytest.raises(VerificationError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        open_note(msg, [parse_vkey(PETER_VKEY)])


def test_open_drops_duplicate_signatures() -> None:
    msg = (TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG).encode() + _insert_abcd(ENOCH_SIG)
    note = open_note(msg, [parse_vkey(PETER_VKEY)])
    enoch_abcd = NoteSignature("EnochRoot", 0xAF0CFE78, ENOCH.base64[:46] + "ABCD" + ENOCH.base64[46:])
    assert (note.signatures, note.unverified) == ((PETER,), (ENOCH, enoch_abcd))


@pytest.mark.parametrize(
    "msg",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        TEXT
        + "\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT.replace("\n", "\r\n") + "\n" + PETER_SIG,
        TEXT + "\n— PeterNeumann AAAA\n",
        TEXT + "\n— PeterNeumann \n",
    ],
    ids=[
        "no-signatures",
        "empty-signature-block",
        "no-final-newline",
        "control-prefix",
        "invalid-utf8",
        "bad-name",
        "unexpected-line",
        "crlf",
        "short-signature",
        "empty-base64",
    ],
)
def test_open_rejects_malformed_notes(msg: str | bytes) -> None:
    with pytest.raises(MalformedNoteError):
        open_note(msg if isinstance(msg, bytes) else msg.encode(), [parse_vkey(PETER_VKEY)])


def test_published_c2sp_example_note_verifies() -> None:
    key = parse_vkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    msg = (
        "This is an example message.\n\n— example.com/foo "
        "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
    )
    assert open_note(msg.encode(), [key]).text == "This is an example message.\n"


def test_spec_cosignature_line_carries_key_id_and_timestamp() -> None:
    raw = base64.b64decode(
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
    )
    assert (raw[:4].hex(), int.from_bytes(raw[4:12], "big"), len(raw)) == ("8d66cf3f", 1679315147, 76)


# --- checkpoints ---------------------------------------------------------------------------

SOFA = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_checkpoint_round_trips() -> None:
    checkpoint = parse_checkpoint(SOFA)
    assert (checkpoint.origin, checkpoint.size, checkpoint.text) == (
        "example.com/behind-the-sofa",
        20852163,
        SOFA,
    )
    with_extension = parse_checkpoint(SOFA + "extension\n")
    assert with_extension.extensions == ("extension",)
    assert with_extension.text == SOFA + "extension\n"


@pytest.mark.parametrize(
    "text",
    [
        SOFA[:-1],
        "example.com/behind-the-sofa\n20852163\n",
        "\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        SOFA + "\n",
        SOFA.replace("20852163", "020852163"),
        SOFA.replace("20852163", "+20852163"),
        SOFA.replace("20852163", " 20852163"),
        SOFA.replace("20852163", "20_852_163"),
        SOFA.replace("20852163", "99999999999999999999"),
        SOFA.replace(
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J="
        ),
        SOFA.replace(
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I"
        ),
        SOFA.replace(
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx"
        ),
        SOFA.replace(
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
            "Cs\u00e9YapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        ),
    ],
    ids=[
        "no-final-newline",
        "two-lines",
        "empty-origin",
        "empty-extension",
        "leading-zero",
        "plus-sign",
        "space",
        "underscores",
        "too-large",
        "non-canonical-base64",
        "unpadded",
        "short-hash",
        "non-ascii-base64",
    ],
)
def test_checkpoint_parsing_is_strict(text: str) -> None:
    with pytest.raises(VerificationError):
        parse_checkpoint(text)


def test_zero_size_checkpoint_parses() -> None:
    text = Checkpoint("o", 0, verify.EMPTY_ROOT).text
    assert parse_checkpoint(text).size == 0


# --- isolation ------------------------------------------------------------------------------

_BLOCKED_IMPORT = textwrap.dedent(
    """
    import importlib.abc, importlib.util, sys, types

    BEFORE = set(sys.modules)  # what the interpreter and site loaded on their own

    ALLOWED = {"custodes", "custodes.ledger", "custodes.ledger.verify"}
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            if name in ALLOWED:
                return None
            if top == "custodes" or not (top in sys.stdlib_module_names or top in {"cryptography", "_cffi_backend"}):
                raise ImportError(f"blocked import of {name}")
            return None
    sys.meta_path.insert(0, Block())
    # Empty parent packages, so that custodes/__init__ and custodes/ledger/__init__ do not run.
    for name, path in (("custodes", SRC + "/custodes"), ("custodes.ledger", SRC + "/custodes/ledger")):
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
    import custodes.ledger.verify as v
    assert {m.split(".")[0] for m in sys.modules if m.startswith("custodes")} == {"custodes"}
    assert set(m for m in sys.modules if m.startswith("custodes.")) == {"custodes.ledger", "custodes.ledger.verify"}
    for m in set(sys.modules) - BEFORE:
        top = m.split(".")[0]
        # cryptography's Rust extension registers file-less submodules such as _openssl,
        # and loads its own dependency, cffi.
        builtin = getattr(sys.modules[m], "__file__", None) is None
        assert builtin or top in sys.stdlib_module_names or top in {"custodes", "cryptography", "_cffi_backend", "cffi"}, m
    v.verify_inclusion(v.leaf_hash(b""), 0, 1, [], v.leaf_hash(b""))
    print("isolated")
    """
)


def test_verifier_imports_nothing_but_stdlib_and_cryptography() -> None:
    src = str(Path(verify.__file__).parents[2])
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"SRC = {src!r}\n" + _BLOCKED_IMPORT],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "isolated"


def test_verifier_runs_as_a_copied_script(tmp_path: Path) -> None:
    script = tmp_path / "verify.py"
    script.write_text(Path(verify.__file__).read_text())
    (tmp_path / "cp.note").write_text(
        "This is an example message.\n\n— example.com/foo "
        "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            str(script),
            "--key",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "checkpoint",
            str(tmp_path / "cp.note"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    # The example note is not a checkpoint: the script runs standalone and says so.
    assert result.returncode == 1
    assert "FAILED: checkpoint" in result.stderr


# --- proof bundles and the verifier's command line -----------------------------------------


def _bundles(tmp_path: Path) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A log of 10 taxpayer entries signed in memory: its vkey, and three bundles."""
    key = Ed25519PrivateKey.generate()
    entries = [json.dumps({"i": i, "taxpayer": "ab" if i % 3 == 0 else "cd"}).encode() for i in range(10)]
    old, new = (
        sign_checkpoint("log.test", 6, mth(entries[:6]), key),
        sign_checkpoint("log.test", 10, mth(entries), key),
    )
    reader = MemoryNodes(entries)

    def act(i: int) -> dict[str, Any]:
        path = [h.hex() for h in inclusion_proof(i, 10, reader)]
        return {
            "leaf_index": i,
            "tree_size": 10,
            "entry_b64": base64.b64encode(entries[i]).decode(),
            "inclusion_path": path,
        }

    proof = {**act(4), "checkpoint": new.note}
    consistency = {
        "proof": [h.hex() for h in consistency_proof(6, 10, reader)],
        "checkpoint_from": old.note,
        "checkpoint_to": new.note,
    }
    accounting = {"taxpayer": "ab", "checkpoint": new.note, "acts": [act(0), act(3), act(6), act(9)]}
    (tmp_path / "old.note").write_text(old.note)
    return verifier_for("log.test", key).vkey, proof, consistency, accounting


def _main(tmp_path: Path, vkey: str, command: str, bundle: object, *extra: str) -> int:
    path = tmp_path / f"{command}.json"
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle))
    return verify.main(["--key", vkey, command, str(path), *extra])


def test_the_command_line_accepts_honest_bundles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vkey, proof, consistency, accounting = _bundles(tmp_path)
    assert _main(tmp_path, vkey, "proof", proof) == 0
    assert _main(tmp_path, vkey, "consistency", consistency, "--old", str(tmp_path / "old.note")) == 0
    assert _main(tmp_path, vkey, "accounting", accounting) == 0
    assert _main(tmp_path, vkey, "accounting", accounting, "--commitment", "ab") == 0
    (tmp_path / "cp.note").write_text(str(proof["checkpoint"]))
    assert verify.main(["--key", vkey, "checkpoint", str(tmp_path / "cp.note")]) == 0
    assert "OK checkpoint log.test size 10" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "change", "message"),
    [
        ("proof", {"checkpoint": 5}, "field 'checkpoint' must be a string"),
        ("proof", {"tree_size": "10"}, "field 'tree_size' must be an integer"),
        ("proof", {"leaf_index": True}, "field 'leaf_index' must be an integer"),
        ("proof", {"tree_size": 9}, "proof is for tree size 9"),
        ("proof", {"entry_b64": "!!"}, "entry_b64 is not base64"),
        ("proof", {"inclusion_path": "00"}, "inclusion_path must be a list"),
        ("proof", {"inclusion_path": ["zz"]}, "inclusion_path must be a list"),
        ("proof", {"leaf_index": 5}, "does not lead to the root"),
        ("consistency", {"proof": []}, "consistency proof is empty"),
        ("consistency", {"checkpoint_from": "x"}, "malformed|no signature"),
        ("accounting", {"acts": {}}, "'acts' must be a list"),
        ("accounting", {"acts": [3]}, "must be an object"),
        ("accounting", {"taxpayer": "cd"}, "entry 0 is not about taxpayer cd"),
    ],
)
def test_the_command_line_rejects_bad_bundles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, change: dict[str, object], message: str
) -> None:
    vkey, proof, consistency, accounting = _bundles(tmp_path)
    bundle = {"proof": proof, "consistency": consistency, "accounting": accounting}[command]
    assert _main(tmp_path, vkey, command, {**bundle, **change}) == 1
    assert re.search(message, capsys.readouterr().err)


def test_the_command_line_rejects_unreadable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey, _, consistency, _ = _bundles(tmp_path)
    assert _main(tmp_path, vkey, "proof", "not json") == 1
    assert _main(tmp_path, vkey, "proof", "[1]") == 1
    assert verify.main(["--key", vkey, "proof", str(tmp_path / "missing.json")]) == 1
    assert verify.main(["--key", "nonsense", "proof", str(tmp_path / "proof.json")]) == 1
    other = tmp_path / "other"
    other.mkdir()
    other_vkey, other_proof, _, _ = _bundles(other)
    assert _main(tmp_path, vkey, "proof", other_proof) == 1
    forked = {**consistency, "checkpoint_from": str(other_proof["checkpoint"])}
    assert _main(tmp_path, other_vkey, "consistency", forked) == 1
    errors = capsys.readouterr().err
    assert "is not JSON" in errors
    assert "not a JSON object" in errors
    assert "malformed verifier key" in errors


def test_entries_of_an_accounting_must_be_json_objects() -> None:
    with pytest.raises(VerificationError, match="not a JSON object"):
        verify._json_object(b"[]", "an entry")


def test_checkpoints_need_a_log_key_and_the_right_origin(tmp_path: Path) -> None:
    vkey, proof, _, _ = _bundles(tmp_path)
    log_key = parse_vkey(vkey)
    cosigning = verify.NoteVerifier(
        log_key.name, log_key.key_id, verify.ALG_COSIGNATURE_V1, log_key.public_key
    )
    with pytest.raises(VerificationError, match="Ed25519 \\(0x01\\) key"):
        verify.verify_checkpoint(str(proof["checkpoint"]), cosigning)
    with pytest.raises(VerificationError, match=re.escape("origin 'log.test' is not 'other'")):
        verify.verify_checkpoint(str(proof["checkpoint"]), log_key, "other")
