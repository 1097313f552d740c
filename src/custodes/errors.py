"""Every exception custodes raises, in one hierarchy.

Errors that reach a user say what was wrong, where (file, row, column) and what to do.
The CLI maps ``UserInputError`` to exit code 2 and everything else to exit code 1.
"""

from __future__ import annotations


class CustodesError(Exception):
    """Base class of every error custodes raises on purpose."""

    def __reduce__(self) -> tuple[object, ...]:
        # pickled whole, attributes included, whatever the subclass's __init__ takes: the
        # service's decider process sends errors to the server processes (service/decider.py)
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))


def _rebuilt(kind: type[CustodesError], args: tuple[object, ...], state: dict[str, object]) -> CustodesError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class UserInputError(CustodesError):
    """Bad input from the person running custodes: a file, a flag, a manifest.

    The message names the file, the row and the column where known, and says what to do.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """One human line (plus a hint line) that says where and what."""
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = f"{': '.join([', '.join(where)]) + ': ' if where else ''}{self.message}"
        if self.hint:
            text += f"\n  what to do: {self.hint}"
        return text


class BatchFileError(UserInputError):
    """The request batch file cannot be read as the contract requires."""


class ManifestError(UserInputError):
    """The manifest is not JSON, or lacks a field the contract requires."""


class DuplicateBatchError(UserInputError):
    """A batch_id was submitted before; batches are never merged."""


class MasterFileError(UserInputError):
    """The master file cannot be read as the contract requires."""


class StoreError(CustodesError):
    """The operational store or the matching index is missing or unusable."""


class ConfigError(UserInputError):
    """The configuration file or environment holds an invalid value."""


class LedgerError(CustodesError):
    """The accounting log cannot be appended to, proven or verified."""


# -- the service -------------------------------------------------------------------------


class AuthenticationError(CustodesError):
    """No usable API key: missing, malformed, unknown, expired or revoked (HTTP 401)."""


class PermissionDeniedError(CustodesError):
    """A Cedar rule forbids the act (HTTP 403); ``rule`` is the rule's ``@id``."""

    def __init__(self, message: str, *, rule: str) -> None:
        self.rule = rule
        super().__init__(message)


class NotFoundError(CustodesError):
    """The batch, basis, key or person named does not exist (HTTP 404)."""


class ConflictError(CustodesError):
    """The act conflicts with the current state: a replayed batch_id, a batch not yet released (HTTP 409)."""

    def __init__(self, message: str, *, kind: str = "conflict") -> None:
        self.kind = kind
        super().__init__(message)


class PayloadTooLargeError(UserInputError):
    """An upload is larger than the configured limit (HTTP 413)."""
