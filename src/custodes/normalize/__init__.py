"""Names, addresses, dates and TINs into comparable fields.

Each module offers pure scalar functions (tested one value at a time) and a vectorised
form over polars frames that the batch engine uses; both apply the same rules.
"""

from custodes.normalize.addresses import normalize_addresses, normalize_street
from custodes.normalize.dates import normalize_dob, parse_dob
from custodes.normalize.names import (
    first_name_keys,
    normalize_names,
    phonetic,
    standardize_name,
)
from custodes.normalize.tins import normalize_tin, normalize_tins

__all__ = [
    "first_name_keys",
    "normalize_addresses",
    "normalize_dob",
    "normalize_names",
    "normalize_street",
    "normalize_tin",
    "normalize_tins",
    "parse_dob",
    "phonetic",
    "standardize_name",
]
