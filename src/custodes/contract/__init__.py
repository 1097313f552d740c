"""File formats of the batch-verification contract: readers, writers and their checks.

See ``docs`` and ``/contracts/batch-verification.md``. Readers raise the ``UserInputError``
subclass for their file (``BatchFileError``, ``ManifestError``, ``MasterFileError``) naming
the file, row and column and saying what to do; the CLI turns these into exit code 2.
"""

from custodes.contract.columns import (
    DECISION_COLUMNS,
    DECISION_SCHEMA,
    DISCLOSURE_PROFILES,
    MASTER_COLUMNS,
    OPTIONAL_MASTER_COLUMNS,
    OPTIONAL_REQUEST_COLUMNS,
    REQUEST_COLUMNS,
    REQUIRED_MASTER_COLUMNS,
    REQUIRED_REQUEST_COLUMNS,
)
from custodes.contract.decisions import write_decisions, write_response
from custodes.contract.manifest import (
    CourtOrder,
    Manifest,
    Officer,
    Signer,
    check_record_count,
    read_manifest,
)
from custodes.contract.master import read_master, read_master_whole
from custodes.contract.requests import read_requests, subject_frame, subject_problem, subjects_frame

__all__ = [
    "DECISION_COLUMNS",
    "DECISION_SCHEMA",
    "DISCLOSURE_PROFILES",
    "MASTER_COLUMNS",
    "OPTIONAL_MASTER_COLUMNS",
    "OPTIONAL_REQUEST_COLUMNS",
    "REQUEST_COLUMNS",
    "REQUIRED_MASTER_COLUMNS",
    "REQUIRED_REQUEST_COLUMNS",
    "CourtOrder",
    "Manifest",
    "Officer",
    "Signer",
    "check_record_count",
    "read_manifest",
    "read_master",
    "read_master_whole",
    "read_requests",
    "subject_frame",
    "subject_problem",
    "subjects_frame",
    "write_decisions",
    "write_response",
]
