"""Immutable domain values shared across the engine.

Names used in the database and on the command line are the lower-case enum
values here; the protobuf enums are mapped to them at the gRPC boundary only.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from clearing.errors import InvalidRequestError

Currency = str
ParticipantId = str
DeviceId = str
TapId = str
MediumToken = str

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def check_currency(code: str) -> Currency:
    """Raises InvalidRequestError unless ``code`` looks like an ISO 4217 alphabetic code."""
    if not _CURRENCY_CODE.match(code):
        raise InvalidRequestError(
            f"currency must be a three-letter ISO 4217 code, not {code!r}", field="currency"
        )
    return code


class Money(NamedTuple):
    """An exact amount: ``minor_units`` of ``currency`` (cents for SGD, won for KRW)."""

    minor_units: int
    currency: Currency

    def __str__(self) -> str:
        return f"{self.minor_units} {self.currency} minor units"


class Role(StrEnum):
    """What a participant may do; fixed when it is admitted."""

    OPERATOR = "operator"
    ISSUER = "issuer"
    CLEARING_HOUSE = "clearing_house"
    AUDITOR = "auditor"


class Mode(StrEnum):
    METRO = "metro"
    BUS = "bus"
    FERRY = "ferry"
    RAIL = "rail"
    TRAM = "tram"


class Direction(StrEnum):
    ON = "on"
    OFF = "off"


class Participant(NamedTuple):
    """A party to clearing.

    participant_id: its client certificate's common name.
    display_name: how people call it.
    role: what it may do.
    settlement_currency: the currency it settles in.
    audit_scope: for an auditor, the participants it may see (sorted);
        empty for an auditor of everything, and for every other role.
    """

    participant_id: ParticipantId
    display_name: str
    role: Role
    settlement_currency: Currency
    audit_scope: tuple[ParticipantId, ...] = ()

    def sees(self, participant_id: ParticipantId) -> bool:
        """Whether this participant may read another's records: its own
        always; the clearing house and unscoped auditors everything; a
        scoped auditor only the participants in its scope."""
        if participant_id == self.participant_id or self.role is Role.CLEARING_HOUSE:
            return True
        return self.role is Role.AUDITOR and (
            not self.audit_scope or participant_id in self.audit_scope
        )

    @property
    def sees_everything(self) -> bool:
        return self.role is Role.CLEARING_HOUSE or (
            self.role is Role.AUDITOR and not self.audit_scope
        )


class Device(NamedTuple):
    """A reader: its owner, the raw Ed25519 key that signs its batches, and
    where it stands."""

    device_id: DeviceId
    operator_id: ParticipantId
    public_key: bytes
    stop_id: str
    mode: Mode


class Tap(NamedTuple):
    """One presentation of a medium at a reader, as accepted into the journal.

    card_debit / ride_code: what the medium proved at the gate, if anything.
    """

    tap_id: TapId
    device_id: DeviceId
    operator_id: ParticipantId
    device_sequence: int
    tapped_at: datetime
    medium_token: MediumToken
    direction: Direction
    card_debit: bytes | None = None
    ride_code: str | None = None
