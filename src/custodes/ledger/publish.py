"""Publishing checkpoints to witnesses, and knowing when a checkpoint is final.

``custodes ledger publish`` submits the newest checkpoint to every configured witness with
a consistency proof from the size that witness last cosigned, checks and stores the
returned cosignatures, and reports whether a quorum has cosigned (the checkpoint is then
final). Witnesses are listed in ``<home>/ledger/witnesses``: a ``quorum N`` line and
lines of ``<cosignature vkey> <submission URL>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from custodes.ledger import store
from custodes.ledger.checkpoint import SignedCheckpoint
from custodes.ledger.proof import consistency_proof
from custodes.ledger.reader import latest_checkpoint
from custodes.ledger.verify import VerificationError, open_note
from custodes.ledger.witness import Submission, WitnessConfig, format_request, submit

Sender = Callable[[str, bytes], Submission]


@dataclass(frozen=True)
class Outcome:
    """What one witness did with the checkpoint."""

    witness: str
    cosigned: bool
    message: str


@dataclass(frozen=True)
class Publication:
    """The result of publishing one checkpoint."""

    checkpoint: SignedCheckpoint
    outcomes: tuple[Outcome, ...]
    cosigners: int
    quorum: int

    @property
    def final(self) -> bool:
        """Whether a quorum of the configured witnesses has cosigned the checkpoint."""
        return self.cosigners >= self.quorum


def _request(engine: Engine, checkpoint: SignedCheckpoint, old: int) -> bytes:
    proof: list[bytes] = []
    if 0 < old < checkpoint.size:
        with engine.connect() as conn:
            proof = consistency_proof(old, checkpoint.size, store.StoredTiles(conn))
    return format_request(old, proof, checkpoint.note)


def _publish_one(
    engine: Engine, checkpoint: SignedCheckpoint, witness: WitnessConfig, send: Sender
) -> Outcome:
    name = witness.verifier.name
    with engine.connect() as conn:
        old = min(store.last_cosigned_size(conn, name), checkpoint.size)
    reply = send(witness.url, _request(engine, checkpoint, old))
    if reply.status == 409:
        # The witness remembers another size (we lost track, or it is new to us): resend once.
        claimed = reply.body.strip()
        if not claimed.isdigit() or int(claimed) > checkpoint.size:
            return Outcome(name, False, f"witness is at size {claimed!r}, beyond our log: investigate")
        reply = send(witness.url, _request(engine, checkpoint, int(claimed)))
    if reply.status != 200:
        return Outcome(name, False, f"refused with HTTP {reply.status}: {reply.body.strip()}")
    lines = [line + "\n" for line in reply.body.split("\n") if line]
    try:
        opened = open_note((checkpoint.note + "".join(lines)).encode(), [witness.verifier])
    except VerificationError as exc:
        return Outcome(name, False, f"returned an invalid cosignature: {exc}")
    line = next(sig.line for sig in opened.signatures if sig.name == name)
    with engine.begin() as conn:
        store.insert_cosignature(conn, checkpoint.size, name, line)
    return Outcome(name, True, "cosigned")


def publish(
    engine: Engine, origin: str, witnesses: Sequence[WitnessConfig], quorum: int, send: Sender | None = None
) -> Publication:
    """Submit the newest checkpoint to every witness (over HTTP unless ``send`` is given)."""
    send = send or submit
    with engine.connect() as conn:
        checkpoint = latest_checkpoint(conn, origin)
    outcomes = tuple(_publish_one(engine, checkpoint, w, send) for w in witnesses)
    with engine.connect() as conn:
        have = store.cosignature_lines(conn, checkpoint.size)
    cosigners = len({w.verifier.name for w in witnesses} & set(have))
    return Publication(checkpoint, outcomes, cosigners, quorum)


def cosigned_note(engine: Engine, origin: str) -> str:
    """The newest checkpoint note with every stored witness cosignature appended."""
    with engine.connect() as conn:
        checkpoint = latest_checkpoint(conn, origin)
        lines = store.cosignature_lines(conn, checkpoint.size)
    return checkpoint.note + "".join(lines[name] for name in sorted(lines))
