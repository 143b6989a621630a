"""What can be wrong with an EMVCo merchant-presented QR payload.

Two kinds of finding, one vocabulary of codes:

* a payload that cannot be read at all (torn TLV, damaged CRC) raises one of
  the ``EmvcoError`` subclasses below; nothing useful can be shown from it;
* a payload that reads but breaks a rule of the EMVCo specification or of a
  national profile yields ``Violation`` values, collected and reported, so a
  decoder can show every problem at once. ``parse_payload(strict=True)`` and
  the builders turn the first violation into the matching exception.

The ``code`` of an error or a violation is the API: tools and tests compare
codes, never messages.
"""

from __future__ import annotations

from typing import NamedTuple


class Violation(NamedTuple):
    """One broken rule in a payload that could be read.

    ``code`` is one of the error codes of this module (``bad_format``,
    ``missing_tag``, ``wrong_currency`` ...); ``tag`` names the data object,
    ``"59"`` at the top level or ``"26.02"`` inside a template; ``message``
    says in words what is wrong, for people.
    """

    code: str
    message: str
    tag: str


class EmvcoError(ValueError):
    """Root of every EMVCo QR error. ``code`` names what went wrong and ``tag``
    the data object it concerns (``None`` when it concerns the payload as a whole)."""

    code: str = "emvco_error"

    def __init__(self, message: str, *, tag: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.tag = tag
        if code is not None:
            self.code = code


class TruncatedError(EmvcoError):
    """The payload ends inside a data object: the text was cut short when it was
    copied or scanned. Scan the QR code again."""

    code = "truncated"


class BadTagIdError(EmvcoError):
    """A data object's id is not two decimal digits, so the payload is no EMVCo
    TLV (or a length before it is wrong). Check that the whole text was copied."""

    code = "bad_tag_id"


class BadLengthError(EmvcoError):
    """A length field is not two decimal digits, or a value is longer or shorter
    than its data object allows. Shorten the value, or rescan a damaged code."""

    code = "bad_length"


class DuplicateTagError(EmvcoError):
    """The same id occurs twice at one level; EMVCo allows each at most once.
    Remove the repeated data object."""

    code = "duplicate_tag"


class MisplacedTagError(EmvcoError):
    """A data object is where the specification forbids it: the payload format
    indicator (00) must come first, and national schemes fix their template ids."""

    code = "misplaced_tag"


class TrailingDataError(EmvcoError):
    """Characters follow the CRC (63), which must be the last data object. The
    text probably has something appended; scan or copy only the QR payload."""

    code = "trailing_data"


class MissingTagError(EmvcoError):
    """A mandatory data object is absent. Add it; the message names it."""

    code = "missing_tag"


class BadCrcError(EmvcoError):
    """The checksum in data object 63 does not match the payload: it was altered
    or damaged after it was made. Do not pay with it; ask for a fresh code."""

    code = "bad_crc"


class BadFormatError(EmvcoError):
    """A value has the wrong shape for its data object (letters in a numeric
    field, an amount with a sign, an unknown currency). The message says which."""

    code = "bad_format"


class OrphanTagError(EmvcoError):
    """A data object appears without the one it depends on, e.g. a fixed
    convenience fee (56) without tip indicator 55 = "02"."""

    code = "orphan_tag"


class ProfileRuleError(EmvcoError):
    """The payload is valid EMVCo but breaks a rule of the national scheme it
    claims (PayNow, PromptPay, DuitNow): wrong currency or country, a proxy of
    the wrong shape. ``code`` is the profile rule's own code."""

    code = "profile_rule"


class NotVehicleQrError(EmvcoError):
    """The payload is a valid merchant QR but carries no farebridge vehicle
    template (globally unique identifier ``io.farebridge``, record ``V1``).
    It is some other merchant's code; pay it as such, or scan the vehicle's own."""

    code = "not_vehicle_qr"


class BadArgumentError(EmvcoError):
    """A builder was given an argument that cannot become a valid payload
    (a negative amount, an unknown proxy type). Fix the argument."""

    code = "bad_argument"


_BY_CODE: dict[str, type[EmvcoError]] = {
    cls.code: cls
    for cls in (
        TruncatedError,
        BadTagIdError,
        BadLengthError,
        DuplicateTagError,
        MisplacedTagError,
        TrailingDataError,
        MissingTagError,
        BadCrcError,
        BadFormatError,
        OrphanTagError,
        NotVehicleQrError,
        BadArgumentError,
    )
}


def error_for(violation: Violation, others: int = 0) -> EmvcoError:
    """The exception that reports ``violation``; ``others`` more are mentioned."""
    message = violation.message
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    cls = _BY_CODE.get(violation.code, ProfileRuleError)
    return cls(message, tag=violation.tag, code=violation.code)
