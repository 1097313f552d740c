"""Loading the Cedar policies and evaluating them, with every refusal mapped to a reason code.

cedarpy names matched policies by position (``policy0``, ``policy1``, ...). Each policy file
is read once; its JSON form maps every position to the policy's effect and ``@id``
annotation, and every ``forbid`` must carry an ``@id`` that is a ``Reason``.

A Cedar policy that fails to evaluate is skipped by Cedar, and a skipped ``forbid`` would
let a request through. So any evaluation error (and any denial that names no rule) raises
``PolicyEvaluationError`` here instead of becoming a decision. Requests are also validated
against ``SCHEMA``, so a fact the code forgot to supply is an error, not a silent pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TypeVar

import cedarpy

from custodes.codes import Reason
from custodes.errors import CustodesError

SCHEMA = """
namespace Custodes {
  entity Registry;
  entity Agency in [Registry];
  entity Subject;
  entity Basis in [Registry] {
    suspended: Bool,
    signer_titles: Set<String>,
    requires_court_order: Bool,
    allowed_profiles: Set<String>,
    requires_engaged_officers: Bool,
    max_subjects_per_officer: Long,
    requires_case_reference: Bool,
  };
  action request_disclosure appliesTo {
    principal: Agency,
    resource: Basis,
    context: {
      signer_named: Bool,
      signer_title: String,
      statute_designated: Bool,
      statute_is_tax: Bool,
      taxable_periods_valid: Bool,
      reason_specific: Bool,
      court_order_complete: Bool,
      court_order_expires_on?: datetime,
      today: datetime,
      disclosure_profile: String,
      officers_named: Long,
      subjects_per_officer: Long,
    },
  };
  action check_subject appliesTo {
    principal: Subject,
    resource: Basis,
    context: {
      name_present: Bool,
      street_present: Bool,
      street_deliverable: Bool,
      tin_acceptable: Bool,
      case_reference_present: Bool,
    },
  };
}
"""
"""The Cedar schema every request and both policy files are checked against."""

CedarValue = bool | int | str | list["CedarValue"] | dict[str, "CedarValue"]
_T = TypeVar("_T")


class PolicyEvaluationError(CustodesError):
    """The policies could not be evaluated; nothing may be decided (a bug, never bad input)."""


@dataclass(frozen=True)
class Policies:
    """One policy file: its text, and the reason code of each ``forbid`` by cedarpy's policy id."""

    name: str
    text: str
    reasons: Mapping[str, Reason]
    order: tuple[Reason, ...]
    parsed: cedarpy.PolicySet
    decided: dict[str, tuple[Reason, ...]] = field(default_factory=dict, compare=False, repr=False)
    """Decisions already made, by the request and entities as canonical JSON (``refusals``)."""


def policy_text(name: str) -> str:
    """The text of ``policies/<name>.cedar`` shipped with the package."""
    return resources.files("custodes.legal").joinpath("policies", f"{name}.cedar").read_text("utf-8")


def policy_ids(text: str) -> dict[str, tuple[str, str | None]]:
    """cedarpy's positional policy id (``policy0``, ...) -> (effect, ``@id`` annotation) for ``text``."""
    parsed = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    return {
        policy_id: (str(policy["effect"]), policy.get("annotations", {}).get("id"))
        for policy_id, policy in parsed.items()
    }


def parse_policies(name: str, text: str, order: Sequence[Reason]) -> Policies:
    """Map each ``forbid`` in ``text`` to its ``@id`` reason; ``order`` must list exactly those reasons."""
    reasons: dict[str, Reason] = {}
    for policy_id, (effect, annotation) in policy_ids(text).items():
        if effect != "forbid":
            continue
        if annotation not in {r.value for r in Reason}:
            raise PolicyEvaluationError(
                f"{name}.cedar: forbid {policy_id} has @id {annotation!r}, which is not a reason code"
            )
        reasons[policy_id] = Reason(annotation)
    if sorted(reasons.values()) != sorted(order):
        raise PolicyEvaluationError(
            f"{name}.cedar: its forbid rules {sorted(reasons.values())} differ from the reporting "
            f"order {sorted(order)}"
        )
    return Policies(
        name=name, text=text, reasons=reasons, order=tuple(order), parsed=cedarpy.PolicySet.from_str(text)
    )


@cache
def _schema() -> cedarpy.Schema:
    return cedarpy.Schema.from_str(SCHEMA)


@cache
def load_policies(name: str, order: tuple[Reason, ...]) -> Policies:
    """The shipped policy file ``name``, parsed once."""
    return parse_policies(name, policy_text(name), order)


def entity(
    kind: str, name: str, attrs: Mapping[str, CedarValue] | None = None, parents: Sequence[str] = ()
) -> dict[str, CedarValue]:
    """A Cedar entity in JSON form; ``parents`` are ids of ``Custodes::Registry`` entities."""
    return {
        "uid": {"type": f"Custodes::{kind}", "id": name},
        "attrs": dict(attrs or {}),
        "parents": [{"type": "Custodes::Registry", "id": p} for p in parents],
    }


def refusals(
    policies: Policies,
    *,
    action: str,
    principal: tuple[str, str],
    resource: tuple[str, str],
    context: Mapping[str, CedarValue],
    entities: Sequence[Mapping[str, CedarValue]],
) -> tuple[Reason, ...]:
    """Every reason the policies give to refuse the request, in ``policies.order``; () if allowed.

    Cedar's answer is a function of the policies, the request and the entities alone, so a
    decision is remembered (``MEMO_SIZE`` per policy file) and the same request with the same
    entities is not evaluated again: an online group under one standing basis asks the same
    question every time (its context holds the day, not the time).
    """
    request = {
        "principal": {"type": f"Custodes::{principal[0]}", "id": principal[1]},
        "action": {"type": "Custodes::Action", "id": action},
        "resource": {"type": f"Custodes::{resource[0]}", "id": resource[1]},
        "context": dict(context),
    }
    listed = [dict(e) for e in entities]
    key = memo_key(request, listed)
    known = policies.decided.get(key)
    if known is not None:
        return known
    result = cedarpy.is_authorized(request, policies.parsed, listed, schema=_schema())
    errors = result.diagnostics.errors
    if errors:
        raise PolicyEvaluationError(f"{policies.name}.cedar could not be evaluated: {'; '.join(errors)}")
    matched = {policies.reasons[p] for p in result.diagnostics.reasons if p in policies.reasons}
    if not result.allowed and not matched:
        raise PolicyEvaluationError(f"{policies.name}.cedar denied the request without naming a rule")
    decided = () if result.allowed else tuple(r for r in policies.order if r in matched)
    remember(policies.decided, key, decided)
    return decided


MEMO_SIZE = 4096
"""Cedar decisions remembered per policy set; when full, the memo starts again empty."""


def memo_key(request: Mapping[str, object], entities: Sequence[Mapping[str, object]]) -> str:
    """The memo key of a Cedar question: the request and the entities as canonical JSON."""
    return json.dumps([request, entities], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def remember(memo: dict[str, tuple[_T, ...]], key: str, decided: tuple[_T, ...]) -> None:
    """Keep ``decided`` under ``key``; a full memo is emptied first (so it never outgrows MEMO_SIZE)."""
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = decided
