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
    return settings


def _apply_toml(settings: Settings, raw: Mapping[str, Any], path: str) -> Settings:
    allowed = {"database_url", "agencies", "bases", "linkage", "service", "log_origin", "accounting"}
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
        known = {f.name for f in fields(ServiceConfig)}
        unknown = set(raw["service"]) - known
        if unknown:
            raise ConfigError(
                f"unknown keys {sorted(unknown)} in [service]", file=path, hint=f"use only {sorted(known)}"
            )
        out = replace(out, service=replace(out.service, **raw["service"]))
    if "bases" in raw:
        bases = dict(out.bases)
        for name, spec in raw["bases"].items():
            bases[name] = _basis_from_toml(name, spec, bases.get(name))
        out = replace(out, bases=bases)
    return out
