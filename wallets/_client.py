"""``WalletClient``: a wallet provider's back end talking to the clearing
house's ``WalletService`` over mutual TLS."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType

from google.protobuf import timestamp_pb2

from farebridge.codecs.mtls import ServerConnection
from farebridge.codecs.ridecode import RideCredential, credential_bytes
from farebridge.v1 import common_pb2, wallet_service_pb2, wallet_service_pb2_grpc
from farebridge.v1.wallet_service_pb2 import (
    PROXY_TYPE_EMAIL,
    PROXY_TYPE_PHONE,
    GetBalanceResponse,
    JourneyTap,
    Proxy,
    RiderAccount,
    TopUp,
    VirtualCard,
)
from wallets._ridecodes import RideCodeWalletError


class WalletServiceError(RideCodeWalletError):
    """The clearing house answered with a credential that does not match its
    own fields: a protocol fault, never a user mistake. Report it."""


WalletConnection = ServerConnection
"""How a wallet provider reaches the clearing house over mutual TLS: the
connection both SDKs share (``from_files(address, ca, cert, key)``)."""


def _stamp(instant: datetime) -> timestamp_pb2.Timestamp:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware (use UTC)")
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(instant)
    return stamp


def _money(minor_units: int, currency: str) -> common_pb2.Money:
    return common_pb2.Money(minor_units=minor_units, currency=currency)


def phone(number: str) -> Proxy:
    """A phone-number proxy; the clearing house normalizes it to E.164."""
    return Proxy(type=PROXY_TYPE_PHONE, value=number)


def email(address: str) -> Proxy:
    """An e-mail proxy; the clearing house compares it in lower case."""
    return Proxy(type=PROXY_TYPE_EMAIL, value=address)


def ride_credential(message: wallet_service_pb2.RideCredential) -> RideCredential:
    """The credential a ``RideCodeWallet`` needs, rebuilt from the answer's
    fields and checked byte for byte against the signed bytes it carries."""
    credential = RideCredential(
        issuer_id=message.issuer_id,
        rider_token=message.rider_token,
        category=message.category,
        expires_at=message.expires_at.ToDatetime(tzinfo=UTC),
        serial=message.serial,
        rider_public_key=message.rider_public_key,
        issuer_signature=message.issuer_signature,
    )
    if credential_bytes(credential) != message.credential:
        raise WalletServiceError("the credential's fields do not match its signed bytes")
    return credential


class WalletClient:
    """Typed calls to ``WalletService`` for one wallet provider.

    Every write takes the provider's idempotency key, so a call that timed out
    may simply be repeated. Errors are the server's ``grpc.RpcError``: its
    code says what happened (``ALREADY_EXISTS`` for a key reused with other
    content, ``PERMISSION_DENIED`` for another provider's account) and its
    ``google.rpc`` details name the field. Use it as a context manager, or
    call ``close()``.
    """

    def __init__(self, connection: WalletConnection, *, timeout: float = 10.0) -> None:
        self._channel = connection.channel()
        self._stub = wallet_service_pb2_grpc.WalletServiceStub(self._channel)
        self._timeout = timeout

    def __enter__(self) -> WalletClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def open_account(
        self, account_id: str, rider_category: str, currency: str = ""
    ) -> RiderAccount:
        request = wallet_service_pb2.OpenAccountRequest(
            account_id=account_id, rider_category=rider_category, currency=currency
        )
        return self._stub.OpenAccount(request, timeout=self._timeout).account

    def link_proxy(self, account_id: str, proxy: Proxy) -> Proxy:
        """Links ``phone(...)`` or ``email(...)``; answers the normalized proxy."""
        request = wallet_service_pb2.LinkProxyRequest(account_id=account_id, proxy=proxy)
        return self._stub.LinkProxy(request, timeout=self._timeout).proxy

    def unlink_proxy(self, proxy: Proxy) -> str:
        """Unlinks it; answers the account it named."""
        request = wallet_service_pb2.UnlinkProxyRequest(proxy=proxy)
        return self._stub.UnlinkProxy(request, timeout=self._timeout).account_id

    def resolve_proxy(self, proxy: Proxy) -> wallet_service_pb2.ResolveProxyResponse:
        """Which provider and account a proxy names (NOT_FOUND if none)."""
        request = wallet_service_pb2.ResolveProxyRequest(proxy=proxy)
        return self._stub.ResolveProxy(request, timeout=self._timeout)

    def top_up(
        self,
        top_up_id: str,
        account_id: str,
        minor_units: int,
        currency: str,
        *,
        source: str = "app",
        card_id: str = "",
    ) -> TopUp:
        request = wallet_service_pb2.TopUpRequest(
            top_up_id=top_up_id,
            account_id=account_id,
            card_id=card_id,
            amount=_money(minor_units, currency),
            source=source,
        )
        return self._stub.TopUp(request, timeout=self._timeout).top_up

    def top_up_qr(
        self,
        account_id: str,
        minor_units: int,
        currency: str,
        reference: str,
        *,
        merchant_city: str,
        country_code: str,
    ) -> str:
        """The EMVCo payload text of a top-up QR code for ``reference``."""
        request = wallet_service_pb2.GetTopUpQrRequest(
            account_id=account_id,
            amount=_money(minor_units, currency),
            reference=reference,
            merchant_city=merchant_city,
            country_code=country_code,
        )
        return self._stub.GetTopUpQr(request, timeout=self._timeout).payload

    def provision_virtual_card(
        self, account_id: str, card_id: str, uid_hex: str = ""
    ) -> VirtualCard:
        request = wallet_service_pb2.ProvisionVirtualCardRequest(
            account_id=account_id, card_id=card_id, uid_hex=uid_hex
        )
        return self._stub.ProvisionVirtualCard(request, timeout=self._timeout).card

    def issue_ride_credential(
        self, account_id: str, rider_public_key: bytes, expires_at: datetime, serial: int
    ) -> RideCredential:
        """A credential for the phone's key, ready for ``RideCodeWallet``."""
        request = wallet_service_pb2.IssueRideCredentialRequest(
            account_id=account_id,
            rider_public_key=rider_public_key,
            expires_at=_stamp(expires_at),
            serial=serial,
        )
        return ride_credential(
            self._stub.IssueRideCredential(request, timeout=self._timeout).credential
        )

    def block_medium(self, medium_token: str, reason: str) -> int:
        """Denies the token at every reader; answers the deny list version."""
        request = wallet_service_pb2.BlockRequest(medium_token=medium_token, reason=reason)
        return self._stub.Block(request, timeout=self._timeout).deny_list_version

    def block_credential(self, serial: int, reason: str) -> int:
        request = wallet_service_pb2.BlockRequest(credential_serial=serial, reason=reason)
        return self._stub.Block(request, timeout=self._timeout).deny_list_version

    def unblock_medium(self, medium_token: str, reason: str) -> int:
        request = wallet_service_pb2.UnblockRequest(medium_token=medium_token, reason=reason)
        return self._stub.Unblock(request, timeout=self._timeout).deny_list_version

    def unblock_credential(self, serial: int, reason: str) -> int:
        request = wallet_service_pb2.UnblockRequest(credential_serial=serial, reason=reason)
        return self._stub.Unblock(request, timeout=self._timeout).deny_list_version

    def balance(self, account_id: str) -> GetBalanceResponse:
        request = wallet_service_pb2.GetBalanceRequest(account_id=account_id)
        return self._stub.GetBalance(request, timeout=self._timeout)

    def journeys(
        self, account_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[JourneyTap]:
        """Taps in [start, end) with their fares, oldest first."""
        request = wallet_service_pb2.ListJourneysRequest(account_id=account_id)
        if start is not None:
            request.start_time.CopyFrom(_stamp(start))
        if end is not None:
            request.end_time.CopyFrom(_stamp(end))
        return list(self._stub.ListJourneys(request, timeout=self._timeout).taps)
