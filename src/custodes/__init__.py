"""custodes: a lawful, precise and auditable disclosure gateway for confidential records.

The public API is the ``Gateway`` (one object that runs every stage), ``open_gateway``,
the settings, the vocabularies and the errors. Everything else is internal.
"""

from custodes.codes import AddressStatus, Outcome, Reason
from custodes.config import Settings, load_settings
from custodes.errors import (
    BatchFileError,
    ConfigError,
    CustodesError,
    DuplicateBatchError,
    LedgerError,
    ManifestError,
    MasterFileError,
    StoreError,
    UserInputError,
)
from custodes.gateway import BatchResult, Gateway, open_gateway

__all__ = [
    "AddressStatus",
    "BatchFileError",
    "BatchResult",
    "ConfigError",
    "CustodesError",
    "DuplicateBatchError",
    "Gateway",
    "LedgerError",
    "ManifestError",
    "MasterFileError",
    "Outcome",
    "Reason",
    "Settings",
    "StoreError",
    "UserInputError",
    "load_settings",
    "open_gateway",
]
