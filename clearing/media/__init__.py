"""Media proofs carried by taps: stored-value card debits and QR ride codes.

A reader forwards what the medium proved at the gate. Clearing checks it
again, centrally, before the tap is priced: a card debit's AES-CMAC under
the card's diversified key, a ride code's signatures and freshness at the
moment of the tap, and that no ride code is used twice anywhere.
"""

from clearing.media._proofs import (
    CardScheme,
    MediaProofError,
    ProofReason,
    verify_card_debit,
    verify_ride_code,
)
from clearing.media._report import card_continuity
from clearing.media._store import CardKeys, RideCodeLists, record_proofs, used_ride_codes

__all__ = [
    "CardKeys",
    "CardScheme",
    "MediaProofError",
    "ProofReason",
    "RideCodeLists",
    "card_continuity",
    "record_proofs",
    "used_ride_codes",
    "verify_card_debit",
    "verify_ride_code",
]
