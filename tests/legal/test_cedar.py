"""Cedar plumbing: policy ids map to reason codes, and a policy that cannot be evaluated never passes."""

from __future__ import annotations

import cedarpy
import pytest

from custodes.codes import BATCH_REASONS, SUBJECT_REASONS, Reason
from custodes.legal.cedar import SCHEMA, PolicyEvaluationError, entity, parse_policies, policy_text, refusals

PERMIT = '@id("ok")\npermit (principal, action == Custodes::Action::"check_subject", resource);\n'
FORBID = 'forbid (principal, action == Custodes::Action::"check_subject", resource) when {{ {cond} }};\n'
CONTEXT = dict.fromkeys(
    ("name_present", "street_present", "street_deliverable", "tin_acceptable", "case_reference_present"), True
)
BASIS_ATTRS = {
    "suspended": False, "signer_titles": [], "requires_court_order": False, "allowed_profiles": [],
    "requires_engaged_officers": False, "max_subjects_per_officer": 1, "requires_case_reference": False,
}  # fmt: skip


def decide(text: str, order: tuple[Reason, ...], context: dict[str, bool] = CONTEXT) -> tuple[Reason, ...]:
    return refusals(
        parse_policies("test", text, order),
        action="check_subject",
        principal=("Subject", "s"),
        resource=("Basis", "b"),
        context=dict(context),
        entities=[entity("Subject", "s"), entity("Basis", "b", BASIS_ATTRS)],
    )


@pytest.mark.parametrize(("name", "order"), [("batch", BATCH_REASONS), ("subject", SUBJECT_REASONS)])
def test_the_shipped_policies_validate_against_the_schema(name: str, order: tuple[Reason, ...]) -> None:
    result = cedarpy.validate_policies(policy_text(name), SCHEMA)
    assert result.validation_passed, [str(e) for e in result.errors]
    parsed = parse_policies(name, policy_text(name), order)
    assert sorted(parsed.reasons.values()) == sorted(order)


def test_matched_forbids_come_back_as_reason_codes_in_the_given_order() -> None:
    text = (
        PERMIT
        + '@id("invalid_tin")\n' + FORBID.format(cond="true")
        + '@id("missing_name")\n' + FORBID.format(cond="true")
    )  # fmt: skip
    assert decide(text, (Reason.MISSING_NAME, Reason.INVALID_TIN)) == (
        Reason.MISSING_NAME,
        Reason.INVALID_TIN,
    )
    assert (
        decide(PERMIT + '@id("missing_name")\n' + FORBID.format(cond="false"), (Reason.MISSING_NAME,)) == ()
    )


def test_a_forbid_without_a_reason_code_is_refused_at_load() -> None:
    with pytest.raises(PolicyEvaluationError, match="not a reason code"):
        parse_policies("test", PERMIT + FORBID.format(cond="true"), ())
    with pytest.raises(PolicyEvaluationError, match="not a reason code"):
        parse_policies("test", PERMIT + '@id("because")\n' + FORBID.format(cond="true"), ())


def test_forbids_and_reporting_order_must_match() -> None:
    with pytest.raises(PolicyEvaluationError, match="differ from the reporting order"):
        parse_policies("test", PERMIT + '@id("missing_name")\n' + FORBID.format(cond="true"), ())


def test_a_forbid_that_fails_to_evaluate_is_an_error_not_a_pass() -> None:
    text = (
        PERMIT + '@id("missing_name")\n' + FORBID.format(cond='context.name_present && principal.nope == "x"')
    )
    with pytest.raises(PolicyEvaluationError, match="could not be evaluated"):
        decide(text, (Reason.MISSING_NAME,))


def test_a_denial_without_a_named_rule_is_an_error() -> None:
    with pytest.raises(PolicyEvaluationError, match="without naming a rule"):
        decide('@id("missing_name")\n' + FORBID.format(cond="false"), (Reason.MISSING_NAME,))


def test_a_request_that_does_not_fit_the_schema_is_an_error() -> None:
    with pytest.raises(PolicyEvaluationError, match="case_reference_present"):
        decide(PERMIT, (), {"name_present": True})


def test_a_remembered_decision_is_the_one_cedar_gives_and_cedar_is_not_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = PERMIT + '@id("missing_name")\n' + FORBID.format(cond="!context.name_present")
    policies = parse_policies("test", text, (Reason.MISSING_NAME,))
    asked: list[object] = []
    real = cedarpy.is_authorized

    def counting(*args: object, **kwargs: object) -> object:
        asked.append(args[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cedarpy, "is_authorized", counting)

    def ask(name_present: bool) -> tuple[Reason, ...]:
        return refusals(
            policies, action="check_subject", principal=("Subject", "s"), resource=("Basis", "b"),
            context={**CONTEXT, "name_present": name_present},
            entities=[entity("Subject", "s"), entity("Basis", "b", BASIS_ATTRS)],
        )  # fmt: skip

    assert ask(False) == (Reason.MISSING_NAME,)
    assert ask(True) == ()
    assert len(asked) == 2
    # the same questions again: the same answers, from the memo
    assert ask(False) == (Reason.MISSING_NAME,)
    assert ask(True) == ()
    assert len(asked) == 2
    # another entity is another question
    assert (
        refusals(
            policies,
            action="check_subject",
            principal=("Subject", "s"),
            resource=("Basis", "b"),
            context={**CONTEXT, "name_present": True},
            entities=[entity("Subject", "s"), entity("Basis", "b", {**BASIS_ATTRS, "suspended": True})],
        )
        == ()
    )
    assert len(asked) == 3


def test_the_memo_never_outgrows_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from custodes.legal import cedar

    monkeypatch.setattr(cedar, "MEMO_SIZE", 3)
    policies = parse_policies("test", PERMIT, ())
    for n in range(7):
        refusals(
            policies, action="check_subject", principal=("Subject", f"s{n}"), resource=("Basis", "b"),
            context=CONTEXT, entities=[entity("Subject", f"s{n}"), entity("Basis", "b", BASIS_ATTRS)],
        )  # fmt: skip
        assert 1 <= len(policies.decided) <= 3
    assert len(policies.decided) == 1


def test_an_evaluation_error_is_never_remembered() -> None:
    broken = PERMIT + '@id("missing_name")\n' + FORBID.format(cond="context.nope")
    policies = parse_policies("test", broken, (Reason.MISSING_NAME,))
    for _ in range(2):
        with pytest.raises(PolicyEvaluationError):
            refusals(
                policies, action="check_subject", principal=("Subject", "s"), resource=("Basis", "b"),
                context=CONTEXT, entities=[entity("Subject", "s"), entity("Basis", "b", BASIS_ATTRS)],
            )  # fmt: skip
    assert policies.decided == {}
