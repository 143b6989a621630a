"""Checking the proofs fresh taps carry, before any of them is stored.

A tap whose proof fails is refused on its own, with its reason, while the
rest of its batch proceeds; nothing of a refused tap is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from clearing.ingest._outcomes import TapOutcome, TapRejectReason, TapStatus
from clearing.media import (
    CardKeys,
    MediaProofError,
    ProofReason,
    RideCodeLists,
    record_proofs,
    used_ride_codes,
    verify_card_debit,
    verify_ride_code,
)
from clearing.values import Tap
from farebridge.codecs.cards import CardDebit
from farebridge.codecs.ridecode import VerifiedRide


@dataclass
class CheckedProofs:
    """Proofs that held, to be stored with their taps."""

    debits: list[tuple[str, str, CardDebit]] = field(default_factory=list)
    rides: list[tuple[str, VerifiedRide]] = field(default_factory=list)

    def record(self, session: Session) -> None:
        record_proofs(session, self.debits, self.rides)


Refusals = dict[str, TapOutcome]


def check_proofs(session: Session, taps: Sequence[Tap]) -> tuple[Refusals, CheckedProofs]:
    """(refused outcomes by tap id, proofs that held)."""
    checked = CheckedProofs()
    refused: Refusals = {}

    def refuse(tap: Tap, error: MediaProofError) -> None:
        reason = TapRejectReason(error.reason.value)
        refused[tap.tap_id] = TapOutcome(tap.tap_id, TapStatus.REJECTED, reason, error.detail)

    card_taps = [t for t in taps if t.card_debit is not None]
    if card_taps:
        keys = CardKeys(session, sorted({t.medium_token for t in card_taps}))
        for tap in card_taps:
            assert tap.card_debit is not None
            try:
                debit = verify_card_debit(
                    tap.medium_token, tap.card_debit, keys.schemes.get(tap.medium_token),
                    keys.uids.get(tap.medium_token),
                )  # fmt: skip
            except MediaProofError as error:
                refuse(tap, error)
                continue
            checked.debits.append((tap.tap_id, tap.device_id, debit))
    _check_ride_codes(session, [t for t in taps if t.ride_code is not None], checked, refuse)
    return refused, checked


def _check_ride_codes(
    session: Session,
    taps: Sequence[Tap],
    checked: CheckedProofs,
    refuse: Callable[[Tap, MediaProofError], None],
) -> None:
    """Signatures and freshness at the time of each tap, then the central
    replay check: one (issuer, serial, counter) in one tap, ever."""
    if not taps:
        return
    lists = RideCodeLists(session, [tap.ride_code for tap in taps if tap.ride_code])
    verified: list[tuple[Tap, VerifiedRide]] = []
    for tap in taps:
        assert tap.ride_code is not None
        try:
            ride = verify_ride_code(
                tap.ride_code, tap.medium_token, lists.trust, lists.deny_at(tap.tapped_at),
                tap.tapped_at,
            )  # fmt: skip
        except MediaProofError as error:
            refuse(tap, error)
            continue
        verified.append((tap, ride))
    used = used_ride_codes(session, [ride for _, ride in verified])
    for tap, ride in verified:
        key = (ride.issuer_id, ride.serial, ride.counter)
        if key in used:
            replayed = MediaProofError(ProofReason.RIDE_CODE_REPLAYED, "ride code already used")
            refuse(tap, replayed)
            continue
        used.add(key)
        checked.rides.append((tap.tap_id, ride))
