"""The authorisation matrix: every role against every action, decided by service.cedar."""

from __future__ import annotations

import pytest

from custodes.legal.cedar import PolicyEvaluationError
from custodes.service.authz import (
    ACTIONS,
    DESK,
    ROLES,
    Caller,
    basis_resource,
    batch_resource,
    forbidding_rules,
    parse_policy,
    policy_text,
)

DHS = "Department of Homeland Security"

# (role, action) -> the rule that forbids it, or None when allowed. The resource is DHS's
# batch submitted by someone else (or DHS's standing basis); agency callers are DHS.
MATRIX: dict[tuple[str, str], str | None] = {
    ("submitter", "submit_batch"): None,
    ("submitter", "view_batch"): None,
    ("submitter", "review_batch"): "only_disclosure_officers_review_rows",
    ("submitter", "release_batch"): "only_disclosure_officers_release",
    ("submitter", "hold_batch"): "only_disclosure_officers_release",
    ("submitter", "download_response"): None,
    ("submitter", "list_batches"): None,
    ("submitter", "verify_subject"): None,
    ("submitter", "register_basis"): "only_policy_admins_register_bases",
    ("disclosure_officer", "submit_batch"): "only_agencies_submit",
    ("disclosure_officer", "view_batch"): None,
    ("disclosure_officer", "review_batch"): None,
    ("disclosure_officer", "release_batch"): None,
    ("disclosure_officer", "hold_batch"): None,
    ("disclosure_officer", "download_response"): "only_submitting_agency_downloads",
    ("disclosure_officer", "list_batches"): None,
    ("disclosure_officer", "verify_subject"): "only_agencies_verify",
    ("disclosure_officer", "register_basis"): "only_policy_admins_register_bases",
    ("auditor", "submit_batch"): "only_agencies_submit",
    ("auditor", "view_batch"): None,
    ("auditor", "review_batch"): "only_disclosure_officers_review_rows",
    ("auditor", "release_batch"): "only_disclosure_officers_release",
    ("auditor", "hold_batch"): "only_disclosure_officers_release",
    ("auditor", "download_response"): "only_submitting_agency_downloads",
    ("auditor", "list_batches"): None,
    ("auditor", "verify_subject"): "only_agencies_verify",
    ("auditor", "register_basis"): "only_policy_admins_register_bases",
    ("policy_admin", "submit_batch"): "only_agencies_submit",
    ("policy_admin", "view_batch"): "policy_admin_sees_no_batches",
    ("policy_admin", "review_batch"): "only_disclosure_officers_review_rows",
    ("policy_admin", "release_batch"): "policy_admin_never_releases",
    ("policy_admin", "hold_batch"): "policy_admin_never_releases",
    ("policy_admin", "download_response"): "only_submitting_agency_downloads",
    ("policy_admin", "list_batches"): "policy_admin_sees_no_batches",
    ("policy_admin", "verify_subject"): "only_agencies_verify",
    ("policy_admin", "register_basis"): None,
    ("oversight", "submit_batch"): "only_agencies_submit",
    ("oversight", "view_batch"): None,
    ("oversight", "review_batch"): "only_disclosure_officers_review_rows",
    ("oversight", "release_batch"): "only_disclosure_officers_release",
    ("oversight", "hold_batch"): "only_disclosure_officers_release",
    ("oversight", "download_response"): "only_submitting_agency_downloads",
    ("oversight", "list_batches"): None,
    ("oversight", "verify_subject"): "only_agencies_verify",
    ("oversight", "register_basis"): "only_policy_admins_register_bases",
}


def _caller(role: str) -> Caller:
    agency = DHS if role == "submitter" else None
    return Caller(key_id=f"key-{role}", role=role, agency=agency, person=f"person-{role}")


def _resource(action: str) -> tuple[str, str, dict[str, object]]:
    if action == "list_batches":
        return (DESK[0], DESK[1], dict(DESK[2]))
    if action in {"verify_subject", "register_basis"}:
        return basis_resource("DHS-ONLINE", DHS)
    return batch_resource("b-1", DHS, "someone else", "key-other")


def test_the_matrix_covers_every_role_and_every_action() -> None:
    assert set(MATRIX) == {(role, action) for role in ROLES for action in ACTIONS}


@pytest.mark.parametrize(("role", "action"), sorted(MATRIX))
def test_role_action(role: str, action: str) -> None:
    context = {"expired": False} if action == "verify_subject" else None
    rules = forbidding_rules(_caller(role), action, _resource(action), context)  # type: ignore[arg-type]
    expected = MATRIX[(role, action)]
    if expected is None:
        assert rules == (), f"{role} should be allowed to {action}, but {rules} forbid it"
    else:
        assert rules[:1] == (expected,), f"{role} doing {action}: expected {expected}, got {rules}"


@pytest.mark.parametrize("role", ["disclosure_officer", "auditor", "policy_admin", "oversight", "submitter"])
def test_nobody_releases_a_batch_they_submitted(role: str) -> None:
    caller = _caller(role)
    own = batch_resource("b-1", DHS, caller.person, "key-other")
    assert "submitter_cannot_release_own_batch" in forbidding_rules(caller, "release_batch", own)
    same_key = batch_resource("b-1", DHS, "someone", caller.key_id)
    assert "submitter_cannot_release_own_batch" in forbidding_rules(caller, "release_batch", same_key)


def test_an_agency_never_touches_another_agencys_batch() -> None:
    caller = _caller("submitter")
    other = batch_resource("b-2", "Department of Justice", "x", "y")
    for action in ("submit_batch", "view_batch", "download_response"):
        assert forbidding_rules(caller, action, other) == ("agency_sees_only_its_own_batches",)
    basis = basis_resource("DOJ-ONLINE", "Department of Justice")
    assert forbidding_rules(caller, "verify_subject", basis, {"expired": False}) == (
        "standing_basis_of_another_agency",
    )
    assert forbidding_rules(caller, "verify_subject", basis_resource("B", DHS), {"expired": True}) == (
        "standing_basis_expired",
    )


def test_a_forbid_without_an_id_is_rejected() -> None:
    with pytest.raises(PolicyEvaluationError, match="has no @id"):
        parse_policy(policy_text() + "\nforbid (principal, action, resource);\n")


def test_a_policy_that_fails_to_evaluate_stops_instead_of_allowing() -> None:
    broken = parse_policy(
        'permit (principal, action, resource);\n@id("x")\nforbid (principal, action, resource) when { resource.nope == 1 };\n'
    )
    with pytest.raises(PolicyEvaluationError):
        forbidding_rules(_caller("auditor"), "view_batch", _resource("view_batch"), policy=broken)  # type: ignore[arg-type]


def test_the_matrix_asked_twice_gives_the_same_answers_and_cedar_is_asked_once_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cedarpy

    policy = parse_policy(policy_text())
    asked = 0
    real = cedarpy.is_authorized

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal asked
        asked += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cedarpy, "is_authorized", counting)
    first = {}
    for role, action in sorted(MATRIX):
        context = {"expired": False} if action == "verify_subject" else None
        first[(role, action)] = forbidding_rules(_caller(role), action, _resource(action), context, policy)  # type: ignore[arg-type]
    assert asked == len(MATRIX)
    for role, action in sorted(MATRIX):
        context = {"expired": False} if action == "verify_subject" else None
        again = forbidding_rules(_caller(role), action, _resource(action), context, policy)  # type: ignore[arg-type]
        assert again == first[(role, action)]
        assert (again[:1] or (None,))[0] == MATRIX[(role, action)]
    assert asked == len(MATRIX)
    # an expired basis is another question, with its own answer
    expired = forbidding_rules(
        _caller("submitter"), "verify_subject", _resource("verify_subject"), {"expired": True}, policy
    )  # type: ignore[arg-type]
    assert expired[:1] == ("standing_basis_expired",)
    assert asked == len(MATRIX) + 1
