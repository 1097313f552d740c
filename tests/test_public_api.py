from __future__ import annotations

import custodes


def test_public_api_is_exactly_the_curated_list() -> None:
    assert sorted(custodes.__all__) == [
        "AddressStatus", "BatchFileError", "BatchResult", "ConfigError", "CustodesError",
        "DuplicateBatchError", "Gateway", "LedgerError", "ManifestError", "MasterFileError",
        "Outcome", "Reason", "Settings", "StoreError", "UserInputError", "load_settings",
        "open_gateway",
    ]  # fmt: skip
    for name in custodes.__all__:
        assert getattr(custodes, name) is not None


def test_every_user_input_error_names_where_and_what_to_do() -> None:
    err = custodes.BatchFileError(
        "duplicate request_id 'R1'", file="b.csv", row=7, column="request_id", hint="make ids unique"
    )
    text = err.render()
    for part in ("b.csv", "row 7", "'request_id'", "make ids unique"):
        assert part in text
