"""Pure checks of the proofs a tap carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from farebridge.codecs import cards, ridecode
from farebridge.codecs.cards import CardDebit
from farebridge.codecs.ridecode import DenyList, TrustList, VerifiedRide


class ProofReason(StrEnum):
    """Why a tap's proof was refused; each maps to a TapRejectReason."""

    CARD_MAC_INVALID = "card_mac_invalid"
    CARD_UNKNOWN = "card_unknown"
    RIDE_CODE_INVALID = "ride_code_invalid"
    RIDE_CODE_REPLAYED = "ride_code_replayed"


class MediaProofError(ValueError):
    """The tap's proof does not hold; ``reason`` says which way."""

    def __init__(self, reason: ProofReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CardScheme:
    """How an issuer diversifies its cards' keys (NXP AN10922). Clearing
    holds the master key only to verify debit MACs.

    aid: the card application id; system_identifier: the AN10922 system id.
    """

    issuer_id: str
    aid: bytes
    system_identifier: bytes
    master_key: bytes

    def card_key(self, card_uid: bytes) -> bytes:
        return cards.card_key(self.master_key, card_uid, self.aid, self.system_identifier)


def verify_card_debit(
    medium_token: str, record: bytes, scheme: CardScheme | None, card_uid: bytes | None
) -> CardDebit:
    """The verified debit; MediaProofError when it is malformed, names another
    card than the tap, or its MAC fails (forged or altered)."""
    if scheme is None or card_uid is None:
        raise MediaProofError(
            ProofReason.CARD_UNKNOWN,
            f"no card scheme and card uid are registered for {medium_token!r}",
        )
    try:
        debit = cards.debit_from_bytes(record)
    except cards.CardError as error:
        raise MediaProofError(ProofReason.CARD_MAC_INVALID, f"malformed debit: {error}") from error
    if debit.card_id != medium_token:
        raise MediaProofError(
            ProofReason.CARD_MAC_INVALID,
            f"the debit names card {debit.card_id!r}, the tap {medium_token!r}",
        )
    try:
        cards.verify_debit(scheme.card_key(card_uid), debit)
    except cards.CardError as error:
        raise MediaProofError(ProofReason.CARD_MAC_INVALID, str(error)) from error
    return debit


def verify_ride_code(
    text: str,
    medium_token: str,
    trust_list: TrustList,
    deny_list: DenyList,
    tapped_at: datetime,
) -> VerifiedRide:
    """Every check but replay, at the moment of the tap: a code uploaded hours
    late from an offline reader is judged by when it was scanned."""
    try:
        ride = ridecode.check_code(text, trust_list, deny_list, tapped_at)
    except ridecode.RideCodeError as error:
        reason = getattr(error, "reason", None)
        name = getattr(reason, "value", "rejected")
        raise MediaProofError(ProofReason.RIDE_CODE_INVALID, f"{name}: {error}") from error
    if ride.rider_token != medium_token:
        raise MediaProofError(
            ProofReason.RIDE_CODE_INVALID,
            f"the code belongs to {ride.rider_token!r}, the tap to {medium_token!r}",
        )
    return ride
