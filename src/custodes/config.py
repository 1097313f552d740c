"""The one configuration object, read from a TOML file and ``CUSTODES_*`` variables.

No other module reads the environment. Precedence, lowest first: built-in defaults,
``$CUSTODES_HOME/custodes.toml`` (or the file named by ``CUSTODES_CONFIG``), then
environment variables.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from custodes.errors import ConfigError

I2 = "26 USC 6103(i)(2)"
I1 = "26 USC 6103(i)(1)"

AGENCY_HEAD_TITLES: tuple[str, ...] = (
    "Secretary of Homeland Security",
    "Attorney General",
    "Secretary of State",
    "Secretary of Labor",
    "Secretary of Defense",
    "Inspector General",
)
"""Titles of a federal agency head or its Inspector General, as accepted for (i)(2)."""

DOJ_TITLES: tuple[str, ...] = (
    "Attorney General",
    "Deputy Attorney General",
    "Associate Attorney General",
    "Assistant Attorney General",
    "Director of the Federal Bureau of Investigation",
    "Administrator of the Drug Enforcement Administration",
    "United States Attorney",
    "Special Prosecutor",
    "Attorney in Charge of a Criminal Division Organized Crime Strike Force",
)
"""Department of Justice officials who may sign an (i)(2) request."""


@dataclass(frozen=True)
class BasisRule:
    """What one legal basis requires, beyond what the law fixes in the Cedar policies."""

    name: str
    signer_titles: tuple[str, ...]
    requires_court_order: bool = False
    allowed_profiles: tuple[str, ...] = ("verify_only",)
    requires_engaged_officers: bool = False
    max_subjects_per_officer: int = 500
    requires_case_reference: bool = False
    address_check: str = "deliverable"
    """``deliverable`` (the structural test of legal/addresses.py) or ``not_blank``, the rule
    that failed in 2025, kept only to replay and remediate batches decided under it."""


ADDRESS_CHECKS: tuple[str, ...] = ("deliverable", "not_blank")


@dataclass(frozen=True)
class BudgetConfig:
    """Query budgets against oracle attacks (see docs/oversight.md)."""

    subject_limit: int = 3
    """Answered queries per agency about one subject (near-variants included) in the window; 0: off."""
    window_days: int = 30
    """Length of the rolling window the subject limit counts over."""
    daily_cap: int = 0
    """Answered requests per agency per UTC day; 0: no cap."""
    agency_daily_caps: Mapping[str, int] = field(default_factory=dict)
    """Per-agency daily caps that override ``daily_cap``."""

    def cap_for(self, agency: str) -> int:
        """The daily cap that applies to ``agency`` (0: none)."""
        return int(self.agency_daily_caps.get(agency, self.daily_cap))


@dataclass(frozen=True)
class OversightConfig:
    """Suspension and remediation settings (see docs/oversight.md)."""

    hold_unreleased: bool = True
    """Hold processed but unreleased batches under a basis when it is suspended."""
    damages_per_act: int = 1000
    """Civil exposure per unauthorised disclosure in remediation reports (26 USC 7431(c))."""


@dataclass(frozen=True)
class LinkageConfig:
    """Thresholds of the precision-first decision rule (see docs/linkage.md)."""

    match_threshold: float = 0.995
    """Posterior a best candidate needs before it can be a match."""
    margin: float = 8.0
    """Log2 Bayes-factor lead the best candidate needs over the runner-up."""
    plausible_threshold: float = 0.2
    """Posterior above which a runner-up is a plausible rival (then: ambiguous)."""
    prior_on_file: float = 0.5
    """Prior probability that a requested subject is a taxpayer on file at all."""
    max_block_size: int = 100
    """Key values shared by more taxpayers are not used for blocking (read at master load)."""


@dataclass(frozen=True)
class ServiceConfig:
    """The HTTP service (``custodes serve``); see docs/service.md."""

    host: str = "127.0.0.1"
    """Address ``custodes serve`` listens on."""
    port: int = 8000
    """Port ``custodes serve`` listens on."""
    max_upload_bytes: int = 2_147_483_648
    """Largest request body ``POST /v1/batches`` accepts (both files together); larger is refused with 413."""
    max_attempts: int = 3
    """Times a batch is tried after a worker crash before it is marked failed."""
    lease_seconds: int = 600
    """How long a claimed batch stays claimed without a heartbeat before another worker resumes it."""
    poll_seconds: float = 1.0
    """How often the background worker looks for received batches when idle."""
    session_minutes: int = 30
    """Lifetime of a reviewer UI session cookie."""
    online_max_group: int = 64
    """Most online verifications decided together and committed in one transaction (group commit)."""
    workers: int = 1
    """Server processes ``custodes serve`` runs (uvicorn workers) on one port; see docs/service.md."""
    decider: bool = True
    """``custodes serve`` decides online verifications in one process of its own, which every
    server process sends its subjects to (``custodes.service.decider``); false: each server
    process decides its own. See docs/service.md, "One decider"."""
    decider_socket: str | None = None
    """Set by ``custodes serve`` for its server processes (``CUSTODES_DECIDER_SOCKET``): the
    decider's socket. Not a TOML key."""


def _default_bases() -> dict[str, BasisRule]:
    return {
        I2: BasisRule(
            name=I2,
            signer_titles=AGENCY_HEAD_TITLES + DOJ_TITLES,
            allowed_profiles=("verify_only",),
        ),
        I1: BasisRule(
            name=I1,
            signer_titles=("United States District Judge", "United States Magistrate Judge"),
            requires_court_order=True,
            allowed_profiles=("verify_only", "address_of_record"),
        ),
    }


DEFAULT_AGENCIES: tuple[str, ...] = (
    "Department of Homeland Security",
    "Department of Justice",
)


@dataclass(frozen=True)
class WitnessPeer:
    """One witness that ``custodes ledger publish`` submits the log's checkpoints to."""

    key: str
    """The witness's cosignature verifier key, ``<name>+<key id>+base64(0x04 || public key)``."""
    url: str
    """Its tlog-witness submission prefix (http or https); ``/add-checkpoint`` is appended."""


@dataclass(frozen=True)
class WitnessingConfig:
    """The custodian's witnesses, and how many cosignatures make a checkpoint final."""

    witnesses: tuple[WitnessPeer, ...] = ()
    quorum: int = 0
    """Cosignatures that make a checkpoint final; 0 means every configured witness."""


@dataclass(frozen=True)
class WitnessServerConfig:
    """``custodes witness serve``: the witness an oversight body runs."""

    name: str = ""
    """The witness's name, e.g. ``oversight.example/witness``; its cosignatures carry it."""
    logs: tuple[str, ...] = ()
    """Verifier keys (``<origin>+<key id>+base64(0x01 || key)``) of the logs it witnesses."""
    state_dir: str = ""
    """Where its key and the last checkpoint it cosigned per log are kept (default <home>/witness)."""


@dataclass(frozen=True)
class Settings:
    """Everything custodes can be configured with."""

    home: Path = Path("custodes-data")
    database_url: str = ""
    agencies: tuple[str, ...] = DEFAULT_AGENCIES
    bases: Mapping[str, BasisRule] = field(default_factory=_default_bases)
    linkage: LinkageConfig = field(default_factory=LinkageConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    log_origin: str = "custodes.example/log"
    accounting: bool = True
    witnessing: WitnessingConfig = field(default_factory=WitnessingConfig)
    witness: WitnessServerConfig = field(default_factory=WitnessServerConfig)
    budgets: BudgetConfig = field(default_factory=BudgetConfig)
    oversight: OversightConfig = field(default_factory=OversightConfig)

    @property
    def index_path(self) -> Path:
        """The DuckDB matching index built by ``master load``."""
        return self.home / "master.duckdb"

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the operational store (SQLite under home by default)."""
        return self.database_url or f"sqlite:///{(self.home / 'custodes.sqlite').resolve()}"


def _basis_from_toml(name: str, raw: Mapping[str, Any], base: BasisRule | None) -> BasisRule:
    start = base or BasisRule(name=name, signer_titles=())
    known = {f.name for f in fields(BasisRule)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"unknown keys {sorted(unknown)} in [bases.{name!r}]",
            hint=f"use only {sorted(known - {'name'})}",
        )
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    if values.get("address_check", ADDRESS_CHECKS[0]) not in ADDRESS_CHECKS:
        raise ConfigError(
            f"[bases.{name!r}] address_check is {values['address_check']!r}",
            hint=f"use one of {list(ADDRESS_CHECKS)}",
        )
    return replace(start, **values)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from defaults, the TOML file and the environment."""
    env = os.environ if environ is None else environ
    home = Path(env.get("CUSTODES_HOME", "custodes-data"))
    config_path = Path(env["CUSTODES_CONFIG"]) if "CUSTODES_CONFIG" in env else home / "custodes.toml"
    settings = Settings(home=home)
    if config_path.exists():
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(exc), file=str(config_path), hint="fix the TOML syntax") from exc
        settings = _apply_toml(settings, raw, str(config_path))
    if "CUSTODES_DATABASE_URL" in env:
        settings = replace(settings, database_url=env["CUSTODES_DATABASE_URL"])
    if "CUSTODES_ACCOUNTING" in env:
        settings = replace(settings, accounting=env["CUSTODES_ACCOUNTING"] not in {"0", "false", "off"})
    if env.get("CUSTODES_DECIDER_SOCKET"):
        decider = replace(settings.service, decider_socket=env["CUSTODES_DECIDER_SOCKET"])
        settings = replace(settings, service=decider)
    return _witness_env(settings, env)


def _apply_toml(settings: Settings, raw: Mapping[str, Any], path: str) -> Settings:
    allowed = {
        "database_url", "agencies", "bases", "linkage", "service", "log_origin", "accounting",
        "budgets", "oversight",
    } | WITNESS_TABLES  # fmt: skip
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}", file=path, hint=f"use only {sorted(allowed)}")
    out = settings
    if "database_url" in raw:
        out = replace(out, database_url=str(raw["database_url"]))
    if "agencies" in raw:
        out = replace(out, agencies=tuple(str(a) for a in raw["agencies"]))
    if "log_origin" in raw:
        out = replace(out, log_origin=str(raw["log_origin"]))
    if "accounting" in raw:
        out = replace(out, accounting=bool(raw["accounting"]))
    if "linkage" in raw:
        known = {f.name for f in fields(LinkageConfig)}
        unknown = set(raw["linkage"]) - known
        if unknown:
            raise ConfigError(
                f"unknown keys {sorted(unknown)} in [linkage]", file=path, hint=f"use only {sorted(known)}"
            )
        out = replace(out, linkage=replace(out.linkage, **raw["linkage"]))
    if "service" in raw:
        known = {f.name for f in fields(ServiceConfig)} - {"decider_socket"}
        unknown = set(raw["service"]) - known
        if unknown:
            raise ConfigError(
                f"unknown keys {sorted(unknown)} in [service]", file=path, hint=f"use only {sorted(known)}"
            )
        workers = raw["service"].get("workers", 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(
                f"[service] workers = {workers!r} is not a number of server processes",
                file=path,
                hint="set a whole number of at least 1 (2 uses both cores of a 2-core machine)",
            )
        if not isinstance(raw["service"].get("decider", True), bool):
            raise ConfigError(
                f"[service] decider = {raw['service']['decider']!r} is not true or false",
                file=path,
                hint="write decider = true (one decider process) or decider = false",
            )
        out = replace(out, service=replace(out.service, **raw["service"]))
    if "budgets" in raw:
        out = replace(out, budgets=_section(BudgetConfig, out.budgets, raw["budgets"], "budgets", path))
    if "oversight" in raw:
        out = replace(
            out, oversight=_section(OversightConfig, out.oversight, raw["oversight"], "oversight", path)
        )
    if "bases" in raw:
        bases = dict(out.bases)
        for name, spec in raw["bases"].items():
            bases[name] = _basis_from_toml(name, spec, bases.get(name))
        out = replace(out, bases=bases)
    return _witness_toml(out, raw, path)


# --- witnessing (docs/ledger.md) -------------------------------------------------------------

WITNESS_TABLES = frozenset({"witnessing", "witness"})


def _table(raw: Mapping[str, Any], name: str, known: set[str], path: str) -> Mapping[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"{name} must be a table ([{name}])", file=path)
    unknown = set(table) - known
    if unknown:
        raise ConfigError(
            f"unknown keys {sorted(unknown)} in [{name}]", file=path, hint=f"use only {sorted(known)}"
        )
    return table


def _strings(value: object, where: str, path: str | None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where} must be a list of strings", file=path)
    return tuple(value)


def _check_witnessing(config: WitnessingConfig, where: str | None) -> WitnessingConfig:
    # The verifier is standalone (stdlib and cryptography), so importing it here is cheap.
    from custodes.ledger.verify import ALG_COSIGNATURE_V1, VerificationError, parse_vkey  # noqa: PLC0415

    for peer in config.witnesses:
        try:
            verifier = parse_vkey(peer.key)
        except VerificationError as exc:
            raise ConfigError(f"witness key {peer.key!r}: {exc}", file=where) from exc
        if verifier.algorithm != ALG_COSIGNATURE_V1:
            raise ConfigError(
                f"witness key {peer.key!r} is not a cosignature key (type 0x04)",
                file=where,
                hint="ask the witness for the key `custodes witness serve` prints at startup",
            )
        if not peer.url.startswith(("http://", "https://")):
            raise ConfigError(f"witness URL {peer.url!r} must start with http:// or https://", file=where)
    if not 0 <= config.quorum <= len(config.witnesses):
        raise ConfigError(
            f"witnessing quorum {config.quorum} needs between 0 (all) and {len(config.witnesses)}",
            file=where,
            hint="list at least as many witnesses as the quorum",
        )
    return config


def _check_witness_server(config: WitnessServerConfig, where: str | None) -> WitnessServerConfig:
    from custodes.ledger.verify import ALG_ED25519, VerificationError, parse_vkey  # noqa: PLC0415

    for key in config.logs:
        try:
            verifier = parse_vkey(key)
        except VerificationError as exc:
            raise ConfigError(f"witnessed log key {key!r}: {exc}", file=where) from exc
        if verifier.algorithm != ALG_ED25519:
            raise ConfigError(f"witnessed log key {key!r} is not an Ed25519 log key (type 0x01)", file=where)
    return config


def _witness_toml(settings: Settings, raw: Mapping[str, Any], path: str) -> Settings:
    out = settings
    if "witnessing" in raw:
        table = _table(raw, "witnessing", {"witnesses", "quorum"}, path)
        peers = table.get("witnesses", [])
        if not isinstance(peers, list) or not all(
            isinstance(p, Mapping)
            and set(p) == {"key", "url"}
            and all(isinstance(v, str) for v in p.values())
            for p in peers
        ):
            raise ConfigError(
                '[witnessing] witnesses must be a list of {key = "<vkey>", url = "<url>"}', file=path
            )
        quorum = table.get("quorum", 0)
        if not isinstance(quorum, int) or isinstance(quorum, bool):
            raise ConfigError(f"[witnessing] quorum = {quorum!r} must be an integer", file=path)
        witnessing = WitnessingConfig(
            tuple(WitnessPeer(p["key"], p["url"].rstrip("/")) for p in peers), quorum
        )
        out = replace(out, witnessing=_check_witnessing(witnessing, path))
    if "witness" in raw:
        table = _table(raw, "witness", {f.name for f in fields(WitnessServerConfig)}, path)
        for key in ("name", "state_dir"):
            if not isinstance(table.get(key, ""), str):
                raise ConfigError(f"[witness] {key} must be a string", file=path)
        server = WitnessServerConfig(
            name=table.get("name", out.witness.name),
            logs=_strings(table.get("logs", list(out.witness.logs)), "[witness] logs", path),
            state_dir=table.get("state_dir", out.witness.state_dir),
        )
        out = replace(out, witness=_check_witness_server(server, path))
    return out


def _witness_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    out = settings
    witnessing = out.witnessing
    if "CUSTODES_WITNESSES" in env:
        words = env["CUSTODES_WITNESSES"].split()
        if len(words) % 2:
            raise ConfigError("CUSTODES_WITNESSES must hold pairs of '<vkey> <url>', separated by whitespace")
        peers = tuple(WitnessPeer(words[i], words[i + 1].rstrip("/")) for i in range(0, len(words), 2))
        witnessing = replace(witnessing, witnesses=peers)
    if "CUSTODES_WITNESS_QUORUM" in env:
        value = env["CUSTODES_WITNESS_QUORUM"]
        if not value.isascii() or not value.isdigit():
            raise ConfigError(f"CUSTODES_WITNESS_QUORUM={value!r} must be a whole number")
        witnessing = replace(witnessing, quorum=int(value))
    if witnessing != out.witnessing:
        out = replace(
            out,
            witnessing=_check_witnessing(
                witnessing, "the environment (CUSTODES_WITNESSES, CUSTODES_WITNESS_QUORUM)"
            ),
        )
    server = out.witness
    if "CUSTODES_WITNESS_NAME" in env:
        server = replace(server, name=env["CUSTODES_WITNESS_NAME"])
    if "CUSTODES_WITNESS_LOGS" in env:
        server = replace(server, logs=tuple(env["CUSTODES_WITNESS_LOGS"].split()))
    if "CUSTODES_WITNESS_STATE_DIR" in env:
        server = replace(server, state_dir=env["CUSTODES_WITNESS_STATE_DIR"])
    if server != out.witness:
        out = replace(out, witness=_check_witness_server(server, "the environment (CUSTODES_WITNESS_LOGS)"))
    return out


def _section(kind: type[Any], current: Any, raw: Mapping[str, Any], name: str, path: str) -> Any:
    """``current`` with the keys of one TOML table applied, each checked against its default's type."""
    known = {f.name for f in fields(kind)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"unknown keys {sorted(unknown)} in [{name}]", file=path, hint=f"use only {sorted(known)}"
        )
    values: dict[str, Any] = {}
    for key, value in raw.items():
        default = getattr(current, key)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            ok = isinstance(value, Mapping) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
            )
        if not ok:
            raise ConfigError(
                f"[{name}] {key} = {value!r} has the wrong type",
                file=path,
                hint=f"use a value like the default, {default!r}",
            )
        values[key] = dict(value) if isinstance(value, Mapping) else value
    return replace(current, **values)
