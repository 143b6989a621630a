"""Why a ride code is refused, and the exceptions that carry the reason.

The reasons are a closed set: readers show them, the clearing house counts
them, and tests assert them, so adding one is a change of the format's
contract (docs/ride-codes.md), not of an implementation.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Why ``verify_code`` refused a code, in the order the checks run."""

    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_ISSUER = "unknown_issuer"
    BAD_ISSUER_SIGNATURE = "bad_issuer_signature"
    BAD_RIDER_SIGNATURE = "bad_rider_signature"
    DENIED = "denied"
    EXPIRED_CREDENTIAL = "expired_credential"
    FUTURE_DATED = "future_dated"
    STALE = "stale"
    REPLAYED = "replayed"


class RideCodeError(Exception):
    """The root of every error about ride codes: catch it alone to handle all."""


class RideCodeArgumentError(RideCodeError, ValueError):
    """A call was made with a value the format cannot carry (an identifier too
    long or outside printable ASCII, a naive datetime, a counter out of range).
    Nothing was signed. Fix the call: the message names the argument."""


class SignedListError(RideCodeError):
    """A trust list or deny list blob did not open: it is not signed by the
    clearing house key it was checked with, or it is not such a list at all.
    Keep using the list you already have and fetch the list again."""


class RideCodeRejectedError(RideCodeError):
    """A code was refused at the gate. ``reason`` says exactly why; the
    subclass says what the rider or operator should do about it.

    Attributes:
        reason: the ``RejectReason``, for displays, logs and counters.
    """

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason


class UnreadableCodeError(RideCodeRejectedError):
    """MALFORMED or UNSUPPORTED_VERSION: the scanned text is not a farebridge
    ride code this reader understands. Ask the rider to show the code again;
    if it keeps happening, the rider's app or this reader needs an update."""


class UntrustedCodeError(RideCodeRejectedError):
    """UNKNOWN_ISSUER, BAD_ISSUER_SIGNATURE or BAD_RIDER_SIGNATURE: the code
    does not prove who issued it or who shows it. Treat it as forged, unless
    the reader's trust list is out of date (fetch the latest one)."""


class RevokedCredentialError(RideCodeRejectedError):
    """DENIED or EXPIRED_CREDENTIAL: the code is genuine but its credential
    may no longer ride. The rider must contact the wallet provider, which
    issues a new credential once the account is in good standing."""


class UntimelyCodeError(RideCodeRejectedError):
    """STALE or FUTURE_DATED: the code's time is too far from the reader's
    clock. Ask the rider to refresh the code; if fresh codes are refused too,
    the phone's clock or the reader's clock is wrong."""


class ReplayedCodeError(RideCodeRejectedError):
    """REPLAYED: this code, or an older one of the same credential, was already
    admitted within the freshness window. Someone is showing a copy (a
    screenshot); the rider should refresh the code on their own phone."""


_CLASS_OF: dict[RejectReason, type[RideCodeRejectedError]] = {
    RejectReason.MALFORMED: UnreadableCodeError,
    RejectReason.UNSUPPORTED_VERSION: UnreadableCodeError,
    RejectReason.UNKNOWN_ISSUER: UntrustedCodeError,
    RejectReason.BAD_ISSUER_SIGNATURE: UntrustedCodeError,
    RejectReason.BAD_RIDER_SIGNATURE: UntrustedCodeError,
    RejectReason.DENIED: RevokedCredentialError,
    RejectReason.EXPIRED_CREDENTIAL: RevokedCredentialError,
    RejectReason.FUTURE_DATED: UntimelyCodeError,
    RejectReason.STALE: UntimelyCodeError,
    RejectReason.REPLAYED: ReplayedCodeError,
}


def rejection(reason: RejectReason, message: str) -> RideCodeRejectedError:
    """The exception for ``reason``, of the subclass that says what to do."""
    return _CLASS_OF[reason](reason, message)
