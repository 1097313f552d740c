"""Policy versions: the concrete rules a batch was decided under, named by their digest.

A *policy* is every setting that decides a request: the registered agencies, each legal
basis's ``BasisRule`` (signer titles, court order, profiles, officers, case references,
address check) and the linkage thresholds. Its *version* is ``pol-`` and the first 20 hex
digits of the SHA-256 of its canonical JSON, so the same rules always have the same
version and any change makes a new one. Every batch records the version that decided it
(and the master file's SHA-256) in the store and in its ledger entry; remediation replays
under a version stored here.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from custodes.config import BasisRule, LinkageConfig, Settings, _apply_toml
from custodes.errors import ConfigError, UserInputError
from custodes.oversight.tables import batch_policies, policies
from custodes.store.schema import master_loads

POLICY_KEYS: tuple[str, ...] = ("agencies", "bases", "linkage")
"""The TOML keys a policy file may hold (the same tables as custodes.toml)."""


def policy_document(settings: Settings) -> dict[str, Any]:
    """The policy part of ``settings`` as plain JSON values."""
    return {
        "agencies": list(settings.agencies),
        "bases": {name: asdict(rule) for name, rule in sorted(settings.bases.items())},
        "linkage": asdict(settings.linkage),
    }


def policy_version(document: dict[str, Any]) -> str:
    """``pol-`` and 20 hex digits of the SHA-256 of the document's canonical JSON."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "pol-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


_VERSIONS: dict[int, tuple[Settings, dict[str, Any], str]] = {}
_VERSIONS_KEPT = 16


def settings_policy(settings: Settings) -> tuple[dict[str, Any], str]:
    """``policy_document(settings)`` and its ``policy_version``, computed once per settings object.

    Settings are frozen; the gateway decides every batch and online group under the same
    object, and hashing its policy took about 0.2 ms each time. The cache holds the object
    itself, so an id is never reused while it is cached.
    """
    kept = _VERSIONS.get(id(settings))
    if kept is not None and kept[0] is settings:
        return kept[1], kept[2]
    document = policy_document(settings)
    version = policy_version(document)
    if len(_VERSIONS) >= _VERSIONS_KEPT:
        _VERSIONS.clear()
    _VERSIONS[id(settings)] = (settings, document, version)
    return document, version


_STORED_VERSION = select(policies.c.version).where(policies.c.version == bindparam("version"))
_LATEST_MASTER = select(master_loads.c.source_sha256).order_by(master_loads.c.id.desc()).limit(1)


def register_policy(conn: Connection, settings: Settings, name: str, at: datetime | None = None) -> str:
    """Store the policy of ``settings`` (once per version) and return its version."""
    document, version = settings_policy(settings)

    def stored() -> bool:
        return conn.execute(_STORED_VERSION, {"version": version}).first() is not None

    if not stored():
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(policies).values(
                        version=version,
                        name=name,
                        policy_json=json.dumps(document, sort_keys=True),
                        created_at=at or datetime.now(UTC),
                    )
                )
        except IntegrityError:
            # concurrent first verifications under one policy: another transaction stored it
            if not stored():
                raise
    return version


def settings_with_policy(base: Settings, document: dict[str, Any]) -> Settings:
    """``base`` (home, store, keys) with the rules of a stored policy document."""
    bases: dict[str, BasisRule] = {}
    for name, rule in document["bases"].items():
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in rule.items()}
        bases[name] = BasisRule(**values)
    return replace(
        base,
        agencies=tuple(document["agencies"]),
        bases=bases,
        linkage=LinkageConfig(**document["linkage"]),
    )


def load_policy(conn: Connection, base: Settings, wanted: str) -> tuple[str, Settings]:
    """The version and settings of a stored policy, by version, unique version prefix or name."""
    rows = conn.execute(
        select(policies.c.version, policies.c.name, policies.c.policy_json).order_by(policies.c.created_at)
    ).all()
    exact = [r for r in rows if wanted in {r[0], r[1]}]
    matches = exact or [r for r in rows if str(r[0]).startswith(wanted)]
    if len({r[0] for r in matches}) != 1:
        known = ", ".join(f"{r[0]} ({r[1]})" for r in rows) or "none"
        problem = "is ambiguous" if matches else "is not a stored policy version"
        raise UserInputError(
            f"policy version {wanted!r} {problem}",
            column="--policy-version",
            hint=f"use `custodes policy list`; stored: {known}",
        )
    version, _, text = matches[-1]
    return str(version), settings_with_policy(base, json.loads(text))


def policy_from_file(base: Settings, path: Path) -> Settings:
    """``base`` with the policy tables of a TOML file applied to the built-in defaults."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserInputError(f"cannot read the policy file: {exc.strerror}", file=str(path)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(exc), file=str(path), hint="fix the TOML syntax") from exc
    unknown = set(raw) - set(POLICY_KEYS)
    if unknown:
        raise ConfigError(
            f"keys {sorted(unknown)} are not policy",
            file=str(path),
            hint=f"a policy file holds only {list(POLICY_KEYS)}",
        )
    rules = _apply_toml(Settings(), raw, str(path))
    return replace(base, agencies=rules.agencies, bases=rules.bases, linkage=rules.linkage)


def current_master_sha256(conn: Connection) -> str | None:
    """The SHA-256 of the master file most recently loaded into the matching index."""
    row = conn.execute(_LATEST_MASTER).first()
    return None if row is None else str(row[0])


def record_batch_policies(
    conn: Connection, batches: Sequence[tuple[str, str]], *, version: str, master_sha256: str | None
) -> None:
    """Note which policy and master file decided these batches, each (agency, batch_id), in one
    statement inside the batches' transaction."""
    if batches:
        conn.execute(
            insert(batch_policies),
            [
                {"agency": a, "batch_id": b, "policy_version": version, "master_sha256": master_sha256}
                for a, b in batches
            ],
        )


def batch_policy(conn: Connection, agency: str, batch_id: str) -> tuple[str, str | None] | None:
    """(policy version, master SHA-256) that decided a batch, if recorded."""
    row = conn.execute(
        select(batch_policies.c.policy_version, batch_policies.c.master_sha256).where(
            batch_policies.c.agency == agency, batch_policies.c.batch_id == batch_id
        )
    ).first()
    return None if row is None else (str(row[0]), None if row[1] is None else str(row[1]))


def stored_policy_document(conn: Connection, version: str) -> dict[str, Any]:
    """The policy document stored under ``version``."""
    text = conn.execute(select(policies.c.policy_json).where(policies.c.version == version)).scalar_one()
    document: dict[str, Any] = json.loads(text)
    return document
