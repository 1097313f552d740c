"""A minimal C2SP tlog-witness (v1.0.0) for an oversight body, and the custodian's client.

The witness keeps, per log origin, the last checkpoint it cosigned. ``add-checkpoint``
verifies the log's signature and the consistency proof from that checkpoint, then
atomically records the new one and returns an Ed25519 cosignature (type 0x04). Anything
inconsistent is refused with the spec's status codes, so a custodian cannot show one
overseer a log that forks from what another overseer saw (a split view).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from custodes.errors import LedgerError
from custodes.ledger.note import cosign_line, format_signer_key, parse_signer_key, verifier_for
from custodes.ledger.verify import (
    ALG_COSIGNATURE_V1,
    EMPTY_ROOT,
    MalformedNoteError,
    NoteVerifier,
    VerificationError,
    decode_base64,
    open_note,
    parse_checkpoint,
    verify_consistency,
)

MAX_PROOF_LINES = 63
MAX_BODY = 1 << 20
SIZE_CONTENT_TYPE = "text/x.tlog.size"
WITNESS_KEY_FILE = "witness.key"


@dataclass(frozen=True)
class WitnessReply:
    """An add-checkpoint answer: HTTP status, content type and body."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def _refuse(status: int, why: str) -> WitnessReply:
    return WitnessReply(status, why + "\n")


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request body."""

    old: int
    proof: tuple[bytes, ...]
    note: bytes


def parse_request(body: bytes) -> AddCheckpoint:
    """Split ``old N``, the proof lines, a blank line and the checkpoint note."""
    header, sep, note = body.partition(b"\n\n")
    lines = header.split(b"\n")
    if not sep or not lines[0].startswith(b"old "):
        raise MalformedNoteError("the body must start with an 'old <size>' line and hold a blank line")
    size = lines[0][4:].decode("ascii", "replace")
    if not size.isdigit() or not size.isascii() or (size != "0" and size.startswith("0")):
        raise MalformedNoteError(f"old size {size!r} is not a decimal")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedNoteError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = tuple(decode_base64(line.decode("ascii", "replace")) for line in lines[1:])
    return AddCheckpoint(int(size), proof, note)


def format_request(old: int, proof: Sequence[bytes], note: str) -> bytes:
    """The add-checkpoint body for a signed checkpoint note and its proof from ``old``."""
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


class WitnessStore:
    """The latest cosigned checkpoint per origin, in JSON files swapped in atomically."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._thread_lock = threading.Lock()

    def _path(self, origin: str) -> Path:
        return self._dir / f"{hashlib.sha256(origin.encode()).hexdigest()}.json"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the witness's state for one check-and-update, across threads and processes."""
        with self._thread_lock, (self._dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def latest(self, origin: str) -> tuple[int, bytes]:
        """(size, root hash) last cosigned for ``origin``; (0, empty root) if never."""
        try:
            state = json.loads(self._path(origin).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0, EMPTY_ROOT
        return int(state["size"]), base64.b64decode(state["root"])

    def record(self, origin: str, size: int, root: bytes, checkpoint: str) -> None:
        """Durably replace the latest checkpoint of ``origin``."""
        path = self._path(origin)
        tmp = path.with_suffix(".tmp")
        state = {
            "origin": origin,
            "size": size,
            "root": base64.b64encode(root).decode(),
            "checkpoint": checkpoint,
        }
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        directory = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class Witness:
    """The witness's logic: check a submission against the logs it follows, then cosign."""

    def __init__(
        self,
        name: str,
        key: Ed25519PrivateKey,
        logs: Sequence[NoteVerifier],
        store: WitnessStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._key = key
        self._logs: dict[str, list[NoteVerifier]] = {}
        for log in logs:
            self._logs.setdefault(log.name, []).append(log)
        self._store = store
        self._clock = clock
        self.verifier = verifier_for(name, key, ALG_COSIGNATURE_V1)

    def add_checkpoint(self, body: bytes) -> WitnessReply:
        """Handle one add-checkpoint request body, as tlog-witness specifies."""
        try:
            request = parse_request(body)
            text = request.note.decode("utf-8")
        except (VerificationError, UnicodeDecodeError) as exc:
            return _refuse(400, f"malformed request: {exc}")
        origin = text.split("\n", 1)[0]
        if origin not in self._logs:
            return _refuse(404, f"unknown log origin {origin!r}")
        try:
            opened = open_note(request.note, self._logs[origin])
        except MalformedNoteError as exc:
            return _refuse(400, f"malformed checkpoint note: {exc}")
        except VerificationError as exc:
            return _refuse(403, f"checkpoint signature: {exc}")
        try:
            checkpoint = parse_checkpoint(opened.text)
        except VerificationError as exc:
            return _refuse(400, f"malformed checkpoint: {exc}")
        if request.old > checkpoint.size:
            return _refuse(
                400, f"old size {request.old} is larger than the checkpoint size {checkpoint.size}"
            )
        with self._store.locked():
            known_size, known_root = self._store.latest(origin)
            if request.old != known_size:
                return WitnessReply(409, f"{known_size}\n", SIZE_CONTENT_TYPE)
            problem = self._inconsistency(request, checkpoint.size, checkpoint.root_hash, known_root)
            if problem:
                return _refuse(422, problem)
            self._store.record(origin, checkpoint.size, checkpoint.root_hash, opened.text)
        timestamp = max(1, int(self._clock()))
        return WitnessReply(200, cosign_line(self.name, self._key, opened.text, timestamp))

    @staticmethod
    def _inconsistency(request: AddCheckpoint, size: int, root: bytes, known_root: bytes) -> str | None:
        if size == 0 and root != EMPTY_ROOT:
            return "a checkpoint of size 0 must have the empty tree's root hash"
        if request.old == 0:
            return "the proof from size 0 must be empty" if request.proof else None
        if request.old == size:
            if request.proof or root != known_root:
                return "same size as the last cosigned checkpoint but a different root hash (a fork)"
            return None
        try:
            verify_consistency(request.old, size, request.proof, known_root, root)
        except VerificationError as exc:
            return f"consistency proof from size {request.old} fails: {exc}"
        return None


def load_or_create_witness_key(directory: Path, name: str) -> Ed25519PrivateKey:
    """The witness's signing key under ``directory`` (mode 0600), created on first use."""
    path = directory / WITNESS_KEY_FILE
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(format_signer_key(name, key) + "\n")
        return key
    stored_name, key = parse_signer_key(path.read_text(encoding="ascii").strip())
    if stored_name != name:
        raise LedgerError(f"{path} holds the key of witness {stored_name!r}, not {name!r}")
    return key


def witness_app(witness: Witness) -> Starlette:
    """The witness's ASGI app: ``POST /add-checkpoint``."""

    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("request too large\n", status_code=413)
        reply = witness.add_checkpoint(body)
        # Set the header verbatim: Starlette would add a charset to text/x.tlog.size.
        return Response(reply.body, status_code=reply.status, headers={"Content-Type": reply.content_type})

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])


# --- the custodian's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessConfig:
    """One witness the custodian publishes to: its cosignature key and submission URL."""

    verifier: NoteVerifier
    url: str


@dataclass(frozen=True)
class Submission:
    """What a witness answered to one add-checkpoint."""

    status: int
    body: str


def submit(url: str, body: bytes, timeout: float = 20.0) -> Submission:
    """POST an add-checkpoint body to a witness at ``url`` (its submission prefix)."""
    if not url.startswith(("http://", "https://")):
        raise LedgerError(f"witness URL {url!r} must be http:// or https://")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        f"{url}/add-checkpoint", data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Submission(response.status, response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        return Submission(exc.code, exc.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError) as exc:
        return Submission(0, f"cannot reach the witness: {exc}")
