"""The stable vocabularies: outcomes, reason codes and address statuses.

Every refusal, in Cedar policies and in vectorised per-subject checks alike, uses a
``Reason`` from this one enum, so a reason code means the same thing everywhere.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What custodes decided about one request."""

    REFUSED = "refused"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    MATCH = "match"


class AddressStatus(StrEnum):
    """For a match: how the address the agency holds relates to the taxpayer's addresses."""

    CURRENT = "current"
    PREVIOUS = "previous"
    NOT_ON_FILE = "not_on_file"


class Reason(StrEnum):
    """Why a request got its outcome. Batch reasons refuse every row of a batch."""

    # batch-level legal elements (one Cedar rule each; the rule's @id is the code)
    UNKNOWN_AGENCY = "unknown_agency"
    INVALID_LEGAL_BASIS = "invalid_legal_basis"
    UNAUTHORIZED_SIGNER = "unauthorized_signer"
    MISSING_STATUTORY_AUTHORITY = "missing_statutory_authority"
    TAX_ADMINISTRATION_STATUTE = "tax_administration_statute"
    MISSING_TAXABLE_PERIODS = "missing_taxable_periods"
    MISSING_SPECIFIC_REASON = "missing_specific_reason"
    MISSING_COURT_ORDER = "missing_court_order"
    EXPIRED_COURT_ORDER = "expired_court_order"
    DISCLOSURE_PROFILE_NOT_PERMITTED = "disclosure_profile_not_permitted"
    MISSING_ENGAGED_OFFICERS = "missing_engaged_officers"
    IMPLAUSIBLE_ENGAGEMENT = "implausible_engagement"
    BASIS_SUSPENDED = "basis_suspended"
    # per-subject legal elements (vectorised checks in the engine)
    MISSING_NAME = "missing_name"
    MISSING_ADDRESS = "missing_address"
    PLACEHOLDER_ADDRESS = "placeholder_address"
    INVALID_TIN = "invalid_tin"
    MISSING_CASE_REFERENCE = "missing_case_reference"
    QUERY_BUDGET_EXCEEDED = "query_budget_exceeded"
    # linkage
    NO_CANDIDATE = "no_candidate"
    BELOW_THRESHOLD = "below_threshold"
    SEVERAL_CANDIDATES = "several_candidates"
    MATCHED = "matched"


BATCH_REASONS: tuple[Reason, ...] = (
    Reason.UNKNOWN_AGENCY,
    Reason.INVALID_LEGAL_BASIS,
    Reason.UNAUTHORIZED_SIGNER,
    Reason.MISSING_STATUTORY_AUTHORITY,
    Reason.TAX_ADMINISTRATION_STATUTE,
    Reason.MISSING_TAXABLE_PERIODS,
    Reason.MISSING_SPECIFIC_REASON,
    Reason.MISSING_COURT_ORDER,
    Reason.EXPIRED_COURT_ORDER,
    Reason.DISCLOSURE_PROFILE_NOT_PERMITTED,
    Reason.MISSING_ENGAGED_OFFICERS,
    Reason.IMPLAUSIBLE_ENGAGEMENT,
    Reason.BASIS_SUSPENDED,
)
"""Reasons that refuse a whole batch, in the order legal-basis.md lists the elements."""

SUBJECT_REASONS: tuple[Reason, ...] = (
    Reason.MISSING_NAME,
    Reason.MISSING_ADDRESS,
    Reason.PLACEHOLDER_ADDRESS,
    Reason.INVALID_TIN,
    Reason.MISSING_CASE_REFERENCE,
)
"""Per-subject refusal reasons, in the order they are checked; the first failure is reported."""
