"""The legal checks of a disclosure request (see docs/legal-checks.md).

- Batch-level elements (who asks, under which basis and statute, why, for which periods)
  are Cedar policies in ``policies/batch.cedar``, evaluated once per batch by ``check_batch``.
- Per-subject elements (name, deliverable address, TIN, case reference) are vectorised checks
  over the whole batch (``check_subjects``); single requests evaluate the same facts with the
  Cedar policies in ``policies/subject.cedar`` (``check_subject``).

Every refusal is a ``custodes.codes.Reason``.
"""

from custodes.legal.addresses import deliverable_streets
from custodes.legal.batch import BATCH_RULE_ORDER, BatchVerdict, check_batch
from custodes.legal.cedar import PolicyEvaluationError
from custodes.legal.subjects import check_subject, check_subjects, subject_facts, subject_refusals

__all__ = [
    "BATCH_RULE_ORDER",
    "BatchVerdict",
    "PolicyEvaluationError",
    "check_batch",
    "check_subject",
    "check_subjects",
    "deliverable_streets",
    "subject_facts",
    "subject_refusals",
]
