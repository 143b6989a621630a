"""The engine's errors. One root; each subclass says what went wrong and what
the caller can do about it. The gRPC layer maps each to a status code."""

from __future__ import annotations


class FarebridgeError(Exception):
    """Root of every error the engine raises on purpose."""


class NotFoundError(FarebridgeError):
    """The named participant, device, medium or cycle does not exist.
    Register it first, or check the identifier."""


class ConflictError(FarebridgeError):
    """The idempotency key was used before with different content. Repeat the
    original request exactly, or choose a new key.

    ``field`` names the first field that differs.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidRequestError(FarebridgeError):
    """The request breaks a rule of the contract; ``field`` names where."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ForbiddenError(FarebridgeError):
    """The caller's role or ownership does not allow this operation."""


class MigrationRefusedError(FarebridgeError):
    """The database holds rows the newer schema would refuse. The migration
    was rolled back whole and the database is as it was: mend the rows named,
    then migrate again."""


class NothingToCloseError(FarebridgeError):
    """A clearing cycle can only be closed once there is a ledger transfer that
    no earlier cycle cleared."""
