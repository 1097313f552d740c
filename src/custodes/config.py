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
    log_origin: str = "custodes.example/log"
    accounting: bool = True
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
    return settings


def _apply_toml(settings: Settings, raw: Mapping[str, Any], path: str) -> Settings:
    allowed = {
        "database_url",
        "agencies",
        "bases",
        "linkage",
        "log_origin",
        "accounting",
        "budgets",
        "oversight",
    }
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
