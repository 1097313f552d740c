"""Publishing checkpoints to witnesses, and knowing when a checkpoint is final.

``custodes ledger publish`` delivers to every configured witness each checkpoint it has not
cosigned yet, oldest first, each with a consistency proof from the one before; it checks
and stores every returned cosignature. A checkpoint is final once a quorum of the
witnesses has cosigned it. Witnesses and the quorum come from the settings
(``[witnessing]`` in custodes.toml, or ``CUSTODES_WITNESSES``).

Why every checkpoint and not only the newest: tlog-witness has the log reach out to its
witnesses "when producing a new checkpoint", and a witness keeps only the latest one it
cosigned. The newest alone would detect a fork (its cosignature plus a consistency proof
covers the older ones), but each batch's checkpoint is handed out with the batch, and an
overseer holding it should find it cosigned as it stands. Checkpoints a witness has already
moved past cannot be submitted to it any more (it accepts only the old size it last
cosigned); they are covered by its later cosignature and counted as skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from custodes.config import WitnessingConfig
from custodes.errors import LedgerError
from custodes.ledger import store
from custodes.ledger.checkpoint import SignedCheckpoint
from custodes.ledger.proof import consistency_proof
from custodes.ledger.reader import latest_checkpoint
from custodes.ledger.verify import VerificationError, open_note, parse_vkey
from custodes.ledger.witness import Submission, WitnessConfig, format_request, submit

Sender = Callable[[str, bytes], Submission]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    """What one witness did with the checkpoints it was sent."""

    witness: str
    cosigned: tuple[int, ...]
    """Tree sizes of the checkpoints it cosigned in this run, oldest first."""
    skipped: int
    """Undelivered checkpoints it had already moved past (covered by a later cosignature)."""
    current: bool
    """Whether it has now cosigned the newest checkpoint."""
    message: str


@dataclass(frozen=True)
class Publication:
    """The result of publishing: the newest checkpoint, and each witness's outcome."""

    checkpoint: SignedCheckpoint
    outcomes: tuple[Outcome, ...]
    cosigners: int
    """Configured witnesses whose cosignature on the newest checkpoint is stored."""
    quorum: int

    @property
    def final(self) -> bool:
        """Whether a quorum of the configured witnesses has cosigned the newest checkpoint."""
        return self.cosigners >= self.quorum


def configured_witnesses(config: WitnessingConfig) -> tuple[list[WitnessConfig], int]:
    """The settings' witnesses with their keys parsed, and the quorum (0 in the settings: all)."""
    if not config.witnesses:
        raise LedgerError(
            "no witnesses are configured: list them under [witnessing] in custodes.toml "
            "or in CUSTODES_WITNESSES (docs/ledger.md, Witnesses)"
        )
    witnesses = [WitnessConfig(parse_vkey(peer.key), peer.url) for peer in config.witnesses]
    return witnesses, config.quorum or len(witnesses)


def _request(conn: Connection, checkpoint: SignedCheckpoint, old: int) -> bytes:
    proof: list[bytes] = []
    if 0 < old < checkpoint.size:
        proof = consistency_proof(old, checkpoint.size, store.StoredTiles(conn))
    return format_request(old, proof, checkpoint.note)


def _witness_size(reply: Submission, newest: int) -> int | None:
    """The size a 409 says the witness last cosigned, if it is one our log can prove from."""
    claimed = reply.body.strip()
    if not claimed.isascii() or not claimed.isdigit() or int(claimed) > newest:
        return None
    return int(claimed)


class _Delivery:
    """Delivering the pending checkpoints to one witness, oldest first."""

    def __init__(self, engine: Engine, origin: str, witness: WitnessConfig, send: Sender) -> None:
        self._engine = engine
        self._witness = witness
        self._send = send
        self.name = witness.verifier.name
        with engine.connect() as conn:
            self.old = store.last_cosigned_size(conn, self.name)
            self.pending = store.checkpoints_after(conn, origin, self.old)
        self.cosigned: list[int] = []
        self.skipped = 0

    def _submit(self, checkpoint: SignedCheckpoint) -> Submission:
        with self._engine.connect() as conn:
            body = _request(conn, checkpoint, self.old)
        return self._send(self._witness.url, body)

    def _store(self, checkpoint: SignedCheckpoint, reply: Submission) -> str | None:
        """Check and store the returned cosignature; a problem, or None."""
        lines = [line + "\n" for line in reply.body.split("\n") if line]
        try:
            opened = open_note((checkpoint.note + "".join(lines)).encode(), [self._witness.verifier])
        except VerificationError as exc:
            return f"returned an invalid cosignature on tree size {checkpoint.size}: {exc}"
        line = next(sig.line for sig in opened.signatures if sig.name == self.name)
        with self._engine.begin() as conn:
            store.insert_cosignature(conn, checkpoint.size, self.name, line)
        return None

    def run(self, newest: int, progress: Progress) -> Outcome:
        position, resynced = 0, False
        while position < len(self.pending):
            checkpoint = self.pending[position]
            progress(f"{self.name}: tree size {checkpoint.size}")
            reply = self._submit(checkpoint)
            if reply.status == 409 and not resynced:
                # The witness last cosigned another size (we lost track, or another
                # publisher ran): continue from there, once per checkpoint.
                claimed = _witness_size(reply, newest)
                if claimed is None:
                    return self._outcome(
                        newest,
                        f"witness is at size {reply.body.strip()!r}, beyond our log (tree size "
                        f"{newest}): investigate, this log may have been forked",
                    )
                self.old, resynced = claimed, True
                behind = [c for c in self.pending[position:] if c.size < claimed]
                self.skipped += len(behind)
                position += len(behind)
                continue
            if reply.status != 200:
                why = f"refused tree size {checkpoint.size} with HTTP {reply.status}: {reply.body.strip()}"
                return self._outcome(newest, why)
            problem = self._store(checkpoint, reply)
            if problem:
                return self._outcome(newest, problem)
            self.cosigned.append(checkpoint.size)
            self.old, resynced = checkpoint.size, False
            position += 1
        return self._outcome(newest, None)

    def _outcome(self, newest: int, problem: str | None) -> Outcome:
        current = self.old == newest and problem is None
        if problem is None and not self.cosigned and not self.skipped:
            message = "had already cosigned the newest checkpoint"
        elif problem is None:
            done = f"cosigned {len(self.cosigned)} checkpoint(s), up to tree size {self.old}"
            message = done + (f"; {self.skipped} it had already passed" if self.skipped else "")
        else:
            message = problem + (f" (after cosigning {len(self.cosigned)})" if self.cosigned else "")
        return Outcome(self.name, tuple(self.cosigned), self.skipped, current, message)


def publish(
    engine: Engine,
    origin: str,
    witnesses: Sequence[WitnessConfig],
    quorum: int,
    *,
    send: Sender | None = None,
    progress: Progress | None = None,
) -> Publication:
    """Deliver every checkpoint each witness has not cosigned (over HTTP unless ``send`` is given)."""
    send = send or submit
    say = progress or (lambda _message: None)
    with engine.connect() as conn:
        newest = latest_checkpoint(conn, origin)
    outcomes = tuple(_Delivery(engine, origin, w, send).run(newest.size, say) for w in witnesses)
    with engine.connect() as conn:
        have = store.cosignature_lines(conn, newest.size)
    cosigners = len({w.verifier.name for w in witnesses} & set(have))
    return Publication(newest, outcomes, cosigners, quorum)


def cosigned_note(engine: Engine, origin: str) -> str:
    """The newest checkpoint note with every stored witness cosignature appended."""
    with engine.connect() as conn:
        checkpoint = latest_checkpoint(conn, origin)
        lines = store.cosignature_lines(conn, checkpoint.size)
    return checkpoint.note + "".join(lines[name] for name in sorted(lines))
