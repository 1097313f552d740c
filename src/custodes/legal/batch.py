"""The batch-level legal check: facts from the manifest and settings, rules in ``batch.cedar``.

Python computes facts that need text handling (is this a Title 26 citation? is this reason
boilerplate?) into plain context values; every decision that refuses is a Cedar rule. The
heuristics, and what they accept:

- **Statutory authority** is *designated* when it cites the US Code (``8 USC 1326``,
  ``18 U.S.C. § 1028A``, ``Title 8, United States Code, Section 1253``) or names Title 26 in
  any form. Title 26 in any form (``26 USC``, ``26 U.S.C.``, ``IRC``, ``I.R.C.``,
  ``Internal Revenue Code``, ``Title 26``) is tax administration. A statute given only by
  name or as a regulation (``8 CFR``) is not designated: the law asks for a specifically
  designated statute, and a citation is what lets an oversight body check it.
- **Specific reason**: blank, a known boilerplate phrase alone, or fewer than
  ``MIN_REASON_WORDS`` distinct words of substance (three letters or more, not a stop word
  or filler such as "see attached") is not a specific reason.
- **Taxable periods**: at least one, each a year from 1913 (the first income tax year) to the
  current year.
- **Signer**: a non-blank name, and a title equal to one the basis accepts, ignoring case and
  spacing only ("Deputy Secretary of Homeland Security" is not "Secretary of Homeland Security").
- **Agency**: equal to a registered agency, ignoring case and spacing.
- **Legal basis**: exactly a basis in the settings (``26 USC 6103(i)(2)``), as the gateway
  looks it up.
- **Engagement**: officers with a non-blank name count; subjects per officer is rounded up.
  Without officers the bound is not applied unless the basis requires officers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from custodes.codes import BATCH_REASONS, Reason
from custodes.config import BasisRule, Settings
from custodes.contract.manifest import Manifest
from custodes.legal.cedar import CedarValue, entity, load_policies, refusals

BATCH_RULE_ORDER: tuple[Reason, ...] = BATCH_REASONS
"""The order in which batch refusals are reported: the legal elements as legal-basis.md lists them."""

FIRST_TAX_YEAR = 1913
MIN_REASON_WORDS = 5

_USC = re.compile(
    r"\b(\d{1,2})\s*(?:U\s*S\s*C(?:\s*A|\s*S)?|UNITED\s+STATES\s+CODE)\s*(?:SECTIONS?|SECS?|SS?)?\s*\d+"
    r"|\bTITLE\s+(\d{1,2})\s*(?:OF\s+THE\s+)?(?:U\s*S\s*C|UNITED\s+STATES\s+CODE)\s*(?:SECTIONS?|SECS?|SS?)?\s*\d+"
)
_TITLE_26 = re.compile(
    r"\b26\s*(?:U\s*S\s*C|UNITED\s+STATES\s+CODE)|\bTITLE\s+26\b|\bI\s?R\s?C\b|\bINTERNAL\s+REVENUE\s+CODE\b"
)

BOILERPLATE_REASONS: frozenset[str] = frozenset(
    {
        "n a", "na", "none", "nil", "null", "tbd", "see attached", "see attachment", "attached",
        "as attached", "see above", "same as above", "investigation", "criminal investigation",
        "ongoing investigation", "pending investigation", "law enforcement",
        "law enforcement purposes", "law enforcement purpose", "official business",
        "official use", "official purposes", "routine", "various", "as needed", "per agreement",
        "per mou", "immigration enforcement", "enforcement",
    }
)  # fmt: skip
"""Whole reasons that say nothing specific (compared lower-case, punctuation as spaces)."""

_STOP_WORDS: frozenset[str] = frozenset(
    {
        "a", "about", "above", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be",
        "because", "been", "being", "below", "but", "by", "can", "each", "etc", "for", "from", "had",
        "has", "have", "he", "her", "his", "if", "in", "into", "is", "it", "its", "may", "might",
        "more", "most", "must", "no", "none", "nor", "not", "of", "on", "or", "our", "per", "purpose",
        "purposes", "request", "requested", "same", "see", "she", "should", "so", "such", "than",
        "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through",
        "to", "tbd", "under", "upon", "various", "was", "we", "were", "what", "when", "where", "which",
        "while", "who", "whom", "why", "will", "with", "would", "you", "your", "attached", "attachment",
    }
)  # fmt: skip
"""Words that carry no substance in a reason: function words and filler."""


@dataclass(frozen=True)
class BatchVerdict:
    """Whether a batch may proceed; if not, every failed element and the one to report."""

    allowed: bool
    reasons: tuple[Reason, ...] = ()

    @property
    def reason(self) -> Reason | None:
        """The batch's refusal reason: the first failed element in ``BATCH_RULE_ORDER``."""
        return self.reasons[0] if self.reasons else None


def agency_key(name: str) -> str:
    """How ``check_batch`` compares agency names (case and spacing folded)."""
    return _fold(name)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _citation_text(text: str) -> str:
    return " ".join(text.upper().replace("§", " ").replace(".", "").replace(",", " ").split())


def statute_is_designated(text: str) -> bool:
    """Whether ``text`` cites a statute: a US Code title and section, or Title 26 in any form."""
    cited = _citation_text(text)
    return bool(_USC.search(cited) or _TITLE_26.search(cited))


def statute_is_tax(text: str) -> bool:
    """Whether ``text`` cites Title 26 (the Internal Revenue Code) in any of its spellings."""
    return bool(_TITLE_26.search(_citation_text(text)))


def reason_is_specific(text: str) -> bool:
    """Whether ``text`` states a specific reason, not blank or boilerplate."""
    folded = " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())
    if folded in BOILERPLATE_REASONS:
        return False
    words = {w for w in folded.split() if len(w) >= 3 and w.isalpha() and w not in _STOP_WORDS}
    return len(words) >= MIN_REASON_WORDS


def taxable_periods_valid(periods: Collection[str], today: date) -> bool:
    """Whether at least one period is given and every one is a real tax year up to this year."""
    return bool(periods) and all(FIRST_TAX_YEAR <= int(p) <= today.year for p in periods)


def _cedar_date(day: date) -> dict[str, CedarValue]:
    return {"__extn": {"fn": "datetime", "arg": day.isoformat()}}


def batch_context(manifest: Manifest, now: datetime, subject_count: int) -> dict[str, CedarValue]:
    """The facts of ``manifest`` that ``batch.cedar`` decides on."""
    officers = [o for o in manifest.engaged_officers or () if o.name.strip()]
    order = manifest.court_order
    context: dict[str, CedarValue] = {
        "signer_named": bool(manifest.signed_by.name.strip()),
        "signer_title": _fold(manifest.signed_by.title),
        "statute_designated": statute_is_designated(manifest.statutory_authority),
        "statute_is_tax": statute_is_tax(manifest.statutory_authority),
        "taxable_periods_valid": taxable_periods_valid(manifest.taxable_periods, now.date()),
        "reason_specific": reason_is_specific(manifest.reason),
        "court_order_complete": order is not None and order.is_complete,
        "today": _cedar_date(now.date()),
        "disclosure_profile": manifest.disclosure_profile,
        "officers_named": len(officers),
        "subjects_per_officer": math.ceil(subject_count / len(officers)) if officers else 0,
    }
    if order is not None and order.expires_on is not None:
        context["court_order_expires_on"] = _cedar_date(order.expires_on)
    return context


def basis_entity(name: str, rule: BasisRule | None, *, suspended: bool) -> dict[str, CedarValue]:
    """The Cedar entity of a legal basis: what it requires, and whether it is registered."""
    known = rule or BasisRule(name=name, signer_titles=())
    titles: list[CedarValue] = [*sorted({_fold(t) for t in known.signer_titles})]
    attrs: dict[str, CedarValue] = {
        "suspended": suspended,
        "signer_titles": titles,
        "requires_court_order": known.requires_court_order,
        "allowed_profiles": list(known.allowed_profiles),
        "requires_engaged_officers": known.requires_engaged_officers,
        "max_subjects_per_officer": known.max_subjects_per_officer,
        "requires_case_reference": known.requires_case_reference,
    }
    return entity("Basis", name, attrs, parents=("bases",) if rule is not None else ())


def check_batch(
    manifest: Manifest,
    settings: Settings,
    now: datetime,
    subject_count: int,
    *,
    suspended_bases: Collection[str] = (),
) -> BatchVerdict:
    """Judge the batch's legal elements; the verdict lists every failed one, in legal order.

    ``now`` is the moment of decision (a court order expiring today is still valid);
    ``suspended_bases`` names bases the oversight body has suspended.
    """
    registered = {_fold(a) for a in settings.agencies}
    agency = entity(
        "Agency", manifest.agency, parents=("agencies",) if _fold(manifest.agency) in registered else ()
    )
    basis = basis_entity(
        manifest.legal_basis,
        settings.bases.get(manifest.legal_basis),
        suspended=manifest.legal_basis in suspended_bases,
    )
    reasons = refusals(
        load_policies("batch", BATCH_RULE_ORDER),
        action="request_disclosure",
        principal=("Agency", manifest.agency),
        resource=("Basis", manifest.legal_basis),
        context=batch_context(manifest, now, subject_count),
        entities=[entity("Registry", "agencies"), entity("Registry", "bases"), agency, basis],
    )
    return BatchVerdict(allowed=not reasons, reasons=reasons)
