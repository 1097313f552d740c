"""Authorisation: Cedar policies (``policies/service.cedar``) over caller, action and resource.

Every authenticated act is allowed unless a ``forbid`` rule matches; a denial names the
rule's ``@id`` (cedarpy's positional ids are mapped back with ``custodes.legal.cedar.policy_ids``).
A policy that fails to evaluate raises ``PolicyEvaluationError``: an unevaluated ``forbid``
must never let an act through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import cedarpy

from custodes.legal.cedar import CedarValue, PolicyEvaluationError, memo_key, policy_ids, remember

AGENCY_ROLES: tuple[str, ...] = ("submitter",)
"""Roles of an agency's API key."""
STAFF_ROLES: tuple[str, ...] = ("disclosure_officer", "auditor", "policy_admin", "oversight")
"""Roles of the custodian's staff (one per person)."""
ROLES: tuple[str, ...] = AGENCY_ROLES + STAFF_ROLES

BATCH_ACTIONS: tuple[str, ...] = (
    "submit_batch", "view_batch", "review_batch", "release_batch", "hold_batch", "download_response",
)  # fmt: skip
"""Acts on one batch (the resource is the batch)."""
ACTIONS: tuple[str, ...] = (*BATCH_ACTIONS, "list_batches", "verify_subject", "register_basis")

SCHEMA = """
namespace Custodes {
  entity Caller { role: String, agency: String, person: String, key_id: String };
  entity Batch { agency: String, submitted_by: String, submitted_key: String };
  entity Desk;
  entity StandingBasis { agency: String };
  action submit_batch, view_batch, review_batch, release_batch, hold_batch, download_response
    appliesTo { principal: Caller, resource: Batch };
  action list_batches appliesTo { principal: Caller, resource: Desk };
  action verify_subject appliesTo { principal: Caller, resource: StandingBasis, context: { expired: Bool } };
  action register_basis appliesTo { principal: Caller, resource: StandingBasis };
}
"""


@dataclass(frozen=True)
class Caller:
    """Who is asking: an API key's holder, with the key's role (and agency, for agency keys)."""

    key_id: str
    role: str
    agency: str | None
    person: str
    """The staff member's name, or the agency key's holder (its key id when none was named)."""

    @property
    def is_staff(self) -> bool:
        """Whether the caller is one of the custodian's staff (not an agency)."""
        return self.role in STAFF_ROLES


@dataclass(frozen=True)
class Policy:
    """The parsed service policies and each ``forbid``'s ``@id``, in file order."""

    parsed: cedarpy.PolicySet
    schema: cedarpy.Schema
    forbids: Mapping[str, str]
    order: tuple[str, ...]
    decided: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    """Decisions already made, by the request and entities as canonical JSON (``forbidding_rules``)."""


def policy_text() -> str:
    """The text of the shipped ``service.cedar``."""
    return resources.files("custodes.service").joinpath("policies", "service.cedar").read_text("utf-8")


def parse_policy(text: str) -> Policy:
    """Parse ``text``; every ``forbid`` must carry an ``@id``."""
    ids = policy_ids(text)
    forbids: dict[str, str] = {}
    for policy_id, (effect, rule) in ids.items():
        if effect != "forbid":
            continue
        if not rule:
            raise PolicyEvaluationError(f"service.cedar: forbid {policy_id} has no @id")
        forbids[policy_id] = rule
    order = tuple(forbids[p] for p in sorted(forbids, key=lambda p: int(p.removeprefix("policy"))))
    return Policy(cedarpy.PolicySet.from_str(text), cedarpy.Schema.from_str(SCHEMA), forbids, order)


@cache
def shipped_policy() -> Policy:
    """The shipped policy, parsed once."""
    return parse_policy(policy_text())


def _uid(kind: str, name: str) -> dict[str, CedarValue]:
    return {"type": f"Custodes::{kind}", "id": name}


def forbidding_rules(
    caller: Caller,
    action: str,
    resource: tuple[str, str, Mapping[str, CedarValue]],
    context: Mapping[str, CedarValue] | None = None,
    policy: Policy | None = None,
) -> tuple[str, ...]:
    """The ``@id`` of every rule that forbids ``caller`` to do ``action`` on ``resource``; () if allowed.

    ``resource`` is (entity type, id, attributes).
    """
    policy = policy or shipped_policy()
    kind, name, attrs = resource
    principal = {
        "uid": _uid("Caller", caller.key_id),
        "attrs": {
            "role": caller.role,
            "agency": caller.agency or "",
            "person": caller.person,
            "key_id": caller.key_id,
        },
        "parents": [],
    }
    target = {"uid": _uid(kind, name), "attrs": dict(attrs), "parents": []}
    request = {
        "principal": _uid("Caller", caller.key_id),
        "action": {"type": "Custodes::Action", "id": action},
        "resource": _uid(kind, name),
        "context": dict(context or {}),
    }
    key = memo_key(request, [principal, target])
    known = policy.decided.get(key)
    if known is not None:
        return known
    result = cedarpy.is_authorized(request, policy.parsed, [principal, target], schema=policy.schema)
    if result.diagnostics.errors:
        raise PolicyEvaluationError(
            f"service.cedar could not be evaluated: {'; '.join(result.diagnostics.errors)}"
        )
    matched = {policy.forbids[p] for p in result.diagnostics.reasons if p in policy.forbids}
    if not result.allowed and not matched:
        raise PolicyEvaluationError(f"service.cedar denied {action} without naming a rule")
    decided = () if result.allowed else tuple(rule for rule in policy.order if rule in matched)
    remember(policy.decided, key, decided)
    return decided


def batch_resource(
    public_id: str, agency: str, submitted_by: str, submitted_key: str
) -> tuple[str, str, dict[str, CedarValue]]:
    """A batch as a Cedar resource."""
    return (
        "Batch",
        public_id,
        {"agency": agency, "submitted_by": submitted_by, "submitted_key": submitted_key},
    )


def basis_resource(basis_id: str, agency: str) -> tuple[str, str, dict[str, CedarValue]]:
    """A standing basis as a Cedar resource."""
    return ("StandingBasis", basis_id, {"agency": agency})


DESK: tuple[str, str, Mapping[str, CedarValue]] = ("Desk", "batches", {})
"""The resource of ``list_batches``."""
