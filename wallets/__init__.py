"""farebridge wallet SDK: what a wallet provider runs in its phone app and
back end.

``RideCodeWallet`` holds a rider's ride credential and private key and
makes a fresh, signed QR ride code on demand, offline, never repeating a
counter even across app restarts::

    wallet = RideCodeWallet(credential, rider_key, Path("ride-codes.json"))
    text = wallet.next_code()           # show it as a QR code at the gate

``WalletClient`` is the provider's back end at the clearing house's
``WalletService``: rider accounts, proxies, top-ups, virtual cards, ride
credentials, blocks, balances and journeys::

    with WalletClient(WalletConnection.from_files(address, ca, cert, key)) as client:
        account = client.open_account("acct-0001", "adult")
        client.top_up("topup-0001", account.account_id, 2000, "SGD")

The ride code format is specified in docs/ride-codes.md; the codecs it uses are in
``farebridge.codecs.ridecode`` and ``farebridge.codecs.qr_render``.
"""

from farebridge.v1.wallet_service_pb2 import (
    PROXY_TYPE_EMAIL,
    PROXY_TYPE_PHONE,
    JourneyTap,
    Proxy,
    RiderAccount,
    TopUp,
    VirtualCard,
)
from wallets._client import (
    WalletClient,
    WalletConnection,
    WalletServiceError,
    email,
    phone,
    ride_credential,
)
from wallets._ridecodes import (
    CredentialRenewalNeededError,
    InvalidWalletArgumentError,
    RideCodeWallet,
    RideCodeWalletError,
    WalletStateError,
)

__all__ = [
    "PROXY_TYPE_EMAIL",
    "PROXY_TYPE_PHONE",
    "CredentialRenewalNeededError",
    "InvalidWalletArgumentError",
    "JourneyTap",
    "Proxy",
    "RideCodeWallet",
    "RideCodeWalletError",
    "RiderAccount",
    "TopUp",
    "VirtualCard",
    "WalletClient",
    "WalletConnection",
    "WalletServiceError",
    "WalletStateError",
    "email",
    "phone",
    "ride_credential",
]
