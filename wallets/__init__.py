"""farebridge wallet SDK: what a wallet provider runs in its phone app and
back end.

``RideCodeWallet`` holds a rider's ride credential and private key and
makes a fresh, signed QR ride code on demand, offline, never repeating a
counter even across app restarts::

    wallet = RideCodeWallet(credential, rider_key, Path("ride-codes.json"))
    text = wallet.next_code()           # show it as a QR code at the gate

The format is specified in docs/ride-codes.md; the codecs it uses are in
``farebridge.codecs.ridecode`` and ``farebridge.codecs.qr_render``.
"""

from wallets._ridecodes import (
    CredentialRenewalNeededError,
    InvalidWalletArgumentError,
    RideCodeWallet,
    RideCodeWalletError,
    WalletStateError,
)

__all__ = [
    "CredentialRenewalNeededError",
    "InvalidWalletArgumentError",
    "RideCodeWallet",
    "RideCodeWalletError",
    "WalletStateError",
]
