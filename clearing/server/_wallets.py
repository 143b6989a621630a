"""WalletService and the reader-facing lists: thin translations between the
contract and clearing.wallets."""

# ruff: noqa: N802  -- servicer methods carry the RPC names the protos define.

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import timestamp_pb2
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearing import wallets
from clearing.errors import ConflictError, InvalidRequestError
from clearing.ingest import Ingestor, TapRejectReason, TapStatus
from clearing.server._auth import ParticipantDirectory, caller
from clearing.server._convert import timestamp
from clearing.storage import Database
from clearing.values import Direction, Money
from farebridge.codecs.ridecode import CredentialId, RideCredential, credential_bytes
from farebridge.v1 import (
    common_pb2,
    reader_service_pb2,
    wallet_service_pb2,
    wallet_service_pb2_grpc,
)

T = TypeVar("T")

_NOT_POSTED_YET = uuid.UUID(int=0)

# A unique key lost to a concurrent writer (the same top-up sent twice at
# once, two changes racing for the next deny-list version): the next attempt
# reads the winner's row and answers accordingly.
_WRITE_ATTEMPTS = 3

_PROXY_KINDS = {
    wallet_service_pb2.PROXY_TYPE_PHONE: wallets.ProxyKind.PHONE,
    wallet_service_pb2.PROXY_TYPE_EMAIL: wallets.ProxyKind.EMAIL,
}
_PROXY_NUMBERS = {kind: number for number, kind in _PROXY_KINDS.items()}
_DIRECTIONS = {
    Direction.ON: common_pb2.TAP_DIRECTION_ON,
    Direction.OFF: common_pb2.TAP_DIRECTION_OFF,
}


def write(database: Database, work: Callable[[Session], T]) -> T:
    """Runs ``work`` in a transaction, again if a concurrent writer won a key."""
    for attempt in range(_WRITE_ATTEMPTS):
        try:
            with database.transaction() as session:
                return work(session)
        except IntegrityError:
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _money(message: common_pb2.Money) -> Money:
    return Money(message.minor_units, message.currency)


def _money_proto(money: Money) -> common_pb2.Money:
    return common_pb2.Money(minor_units=money.minor_units, currency=money.currency)


def _instant(stamp: timestamp_pb2.Timestamp, field: str) -> datetime:
    if stamp.seconds == 0 and stamp.nanos == 0:
        raise InvalidRequestError(f"{field} is required", field=field)
    return stamp.ToDatetime(tzinfo=UTC)


def _time_range(
    request: wallet_service_pb2.ListJourneysRequest,
) -> tuple[datetime | None, datetime | None]:
    start = request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None
    end = request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None
    return start, end


def _proxy(message: wallet_service_pb2.Proxy) -> wallets.Proxy:
    kind = _PROXY_KINDS.get(message.type)
    if kind is None:
        raise InvalidRequestError("proxy.type must be PHONE or EMAIL", field="proxy.type")
    return wallets.normalize_proxy(kind, message.value)


def _proxy_proto(proxy: wallets.Proxy) -> wallet_service_pb2.Proxy:
    return wallet_service_pb2.Proxy(type=_PROXY_NUMBERS[proxy.kind], value=proxy.value)


def _account_proto(account: wallets.RiderAccount) -> wallet_service_pb2.RiderAccount:
    return wallet_service_pb2.RiderAccount(
        account_id=account.account_id,
        issuer_id=account.issuer_id,
        rider_category=account.rider_category,
        currency=account.currency,
        medium_token=account.medium_token,
        opened_at=timestamp(account.opened_at),
    )


def _top_up_proto(top_up: wallets.TopUp) -> wallet_service_pb2.TopUp:
    return wallet_service_pb2.TopUp(
        top_up_id=top_up.top_up_id,
        account_id=top_up.account_id,
        card_id=top_up.card_id,
        amount=_money_proto(top_up.amount),
        source=top_up.source,
        transfer_id=str(top_up.transfer_id),
        created_at=timestamp(top_up.created_at),
    )


def _card_proto(card: wallets.VirtualCard) -> wallet_service_pb2.VirtualCard:
    return wallet_service_pb2.VirtualCard(
        card_id=card.card_id,
        account_id=card.account_id,
        medium_token=card.medium_token,
        uid_hex=card.uid_hex,
        provisioned_at=timestamp(card.provisioned_at),
    )


def _credential_proto(credential: RideCredential) -> wallet_service_pb2.RideCredential:
    return wallet_service_pb2.RideCredential(
        credential=credential_bytes(credential),
        issuer_id=credential.issuer_id,
        rider_token=credential.rider_token,
        category=credential.category,
        expires_at=timestamp(credential.expires_at),
        serial=credential.serial,
        rider_public_key=credential.rider_public_key,
        issuer_signature=credential.issuer_signature,
    )


def _journey_proto(tap: wallets.JourneyTap) -> wallet_service_pb2.JourneyTap:
    currency = tap.fares[0].amount.currency if tap.fares else ""
    total = sum(fare.amount.minor_units for fare in tap.fares)
    return wallet_service_pb2.JourneyTap(
        tap_id=tap.tap_id,
        tapped_at=timestamp(tap.tapped_at),
        operator_id=tap.operator_id,
        device_id=tap.device_id,
        direction=_DIRECTIONS[tap.direction],
        medium_token=tap.medium_token,
        fares=[
            wallet_service_pb2.FareComponent(
                operator_id=fare.operator_id,
                amount=_money_proto(fare.amount),
                transfer_id=str(fare.transfer_id),
            )
            for fare in tap.fares
        ],
        total=common_pb2.Money(minor_units=total, currency=currency),
        unpriced_reason=tap.unpriced_reason,
    )


def _target(
    message: wallet_service_pb2.BlockRequest | wallet_service_pb2.UnblockRequest, issuer_id: str
) -> wallets.DenyEntry:
    which = message.WhichOneof("target")
    if which == "medium_token":
        return message.medium_token
    if which == "credential_serial":
        return CredentialId(issuer_id, message.credential_serial)
    raise InvalidRequestError("name a medium_token or a credential_serial", field="target")


def deny_entry_proto(entry: wallets.DenyEntry) -> reader_service_pb2.DenyListEntry:
    if isinstance(entry, CredentialId):
        serial = reader_service_pb2.CredentialSerial(issuer_id=entry.issuer_id, serial=entry.serial)
        return reader_service_pb2.DenyListEntry(credential=serial)
    return reader_service_pb2.DenyListEntry(rider_token=entry)


class WalletServicer(wallet_service_pb2_grpc.WalletServiceServicer):
    """Every method acts for the calling provider, on its own accounts only."""

    def __init__(
        self,
        database: Database,
        directory: ParticipantDirectory,
        clock: Callable[[], datetime],
        ingestor: Ingestor,
    ) -> None:
        self._database = database
        self._directory = directory
        self._clock = clock
        self._ingestor = ingestor

    def ScanToPay(
        self, request: wallet_service_pb2.ScanToPayRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.ScanToPayResponse:
        issuer = self._issuer(context)
        if not request.HasField("scanned_at"):
            raise InvalidRequestError("scanned_at is required", field="scanned_at")
        with self._database.transaction() as session:
            account = wallets.owned_account(session, issuer, request.account_id)
        outcome, vehicle = self._ingestor.ingest_scan(
            account.medium_token,
            request.vehicle_qr,
            request.scan_id,
            request.scanned_at.ToDatetime(tzinfo=UTC),
        )
        if outcome.status is TapStatus.REJECTED:
            if outcome.reject_reason is TapRejectReason.TAP_ID_CONFLICT:
                raise ConflictError(outcome.detail, field="scan_id")
            raise InvalidRequestError(outcome.detail, field="scanned_at")
        status = (
            reader_service_pb2.TAP_STATUS_ACCEPTED
            if outcome.status is TapStatus.ACCEPTED
            else reader_service_pb2.TAP_STATUS_DUPLICATE
        )
        return wallet_service_pb2.ScanToPayResponse(
            tap_id=outcome.tap_id,
            operator_id=vehicle.operator_id,
            route_id=vehicle.route_id,
            vehicle_id=vehicle.vehicle_id,
            status=status,
        )

    def _issuer(self, context: grpc.ServicerContext) -> str:
        return caller(context, self._directory).participant_id

    def OpenAccount(
        self, request: wallet_service_pb2.OpenAccountRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.OpenAccountResponse:
        issuer, now = self._issuer(context), self._clock()
        account = write(
            self._database,
            lambda s: wallets.open_account(
                s, issuer, request.account_id, request.rider_category, request.currency, now=now
            ),
        )
        return wallet_service_pb2.OpenAccountResponse(account=_account_proto(account))

    def LinkProxy(
        self, request: wallet_service_pb2.LinkProxyRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.LinkProxyResponse:
        issuer, now, proxy = self._issuer(context), self._clock(), _proxy(request.proxy)
        linked = write(
            self._database,
            lambda s: wallets.link_proxy(s, issuer, request.account_id, proxy, now),
        )
        return wallet_service_pb2.LinkProxyResponse(
            proxy=_proxy_proto(linked), account_id=request.account_id
        )

    def UnlinkProxy(
        self, request: wallet_service_pb2.UnlinkProxyRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.UnlinkProxyResponse:
        issuer, proxy = self._issuer(context), _proxy(request.proxy)
        account_id = write(self._database, lambda s: wallets.unlink_proxy(s, issuer, proxy))
        return wallet_service_pb2.UnlinkProxyResponse(
            proxy=_proxy_proto(proxy), account_id=account_id
        )

    def ResolveProxy(
        self, request: wallet_service_pb2.ResolveProxyRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.ResolveProxyResponse:
        proxy = _proxy(request.proxy)
        with self._database.transaction() as session:
            found = wallets.resolve_proxy(session, proxy)
        return wallet_service_pb2.ResolveProxyResponse(
            proxy=_proxy_proto(found.proxy), issuer_id=found.issuer_id, account_id=found.account_id
        )

    def TopUp(
        self, request: wallet_service_pb2.TopUpRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.TopUpResponse:
        issuer, now = self._issuer(context), self._clock()
        if not request.HasField("amount"):
            raise InvalidRequestError("amount is required", field="amount")
        wanted = wallets.TopUp(
            request.top_up_id,
            request.account_id,
            request.card_id,
            _money(request.amount),
            request.source,
            transfer_id=_NOT_POSTED_YET,
            created_at=now,
        )
        stored = write(self._database, lambda s: wallets.top_up(s, issuer, wanted, now=now))
        return wallet_service_pb2.TopUpResponse(top_up=_top_up_proto(stored))

    def GetTopUpQr(
        self, request: wallet_service_pb2.GetTopUpQrRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.GetTopUpQrResponse:
        issuer = self._issuer(context)
        with self._database.transaction() as session:
            payload = wallets.top_up_payload(
                session,
                issuer,
                request.account_id,
                _money(request.amount),
                request.reference,
                merchant_city=request.merchant_city,
                country=request.country_code,
            )
        return wallet_service_pb2.GetTopUpQrResponse(payload=payload)

    def ProvisionVirtualCard(
        self,
        request: wallet_service_pb2.ProvisionVirtualCardRequest,
        context: grpc.ServicerContext,
    ) -> wallet_service_pb2.ProvisionVirtualCardResponse:
        issuer, now = self._issuer(context), self._clock()
        card = write(
            self._database,
            lambda s: wallets.provision_card(
                s, issuer, request.account_id, request.card_id, request.uid_hex, now=now
            ),
        )
        return wallet_service_pb2.ProvisionVirtualCardResponse(card=_card_proto(card))

    def IssueRideCredential(
        self,
        request: wallet_service_pb2.IssueRideCredentialRequest,
        context: grpc.ServicerContext,
    ) -> wallet_service_pb2.IssueRideCredentialResponse:
        issuer, now = self._issuer(context), self._clock()
        expires_at = _instant(request.expires_at, "expires_at")
        credential = write(
            self._database,
            lambda s: wallets.issue_ride_credential(
                s,
                issuer,
                request.account_id,
                request.rider_public_key,
                expires_at=expires_at,
                serial=request.serial,
                now=now,
            ),
        )
        return wallet_service_pb2.IssueRideCredentialResponse(
            credential=_credential_proto(credential)
        )

    def _change(
        self,
        request: wallet_service_pb2.BlockRequest | wallet_service_pb2.UnblockRequest,
        context: grpc.ServicerContext,
        *,
        block: bool,
    ) -> wallets.DenyChange:
        issuer, now = self._issuer(context), self._clock()
        target = _target(request, issuer)
        return write(
            self._database,
            lambda s: wallets.change_deny_list(
                s, issuer, target, block=block, reason=request.reason, now=now
            ),
        )

    def Block(
        self, request: wallet_service_pb2.BlockRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.BlockResponse:
        change = self._change(request, context, block=True)
        return wallet_service_pb2.BlockResponse(
            deny_list_version=change.version, changed=change.changed
        )

    def Unblock(
        self, request: wallet_service_pb2.UnblockRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.UnblockResponse:
        change = self._change(request, context, block=False)
        return wallet_service_pb2.UnblockResponse(
            deny_list_version=change.version, changed=change.changed
        )

    def GetBalance(
        self, request: wallet_service_pb2.GetBalanceRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.GetBalanceResponse:
        issuer = self._issuer(context)
        with self._database.transaction() as session:
            found = wallets.account_balances(session, issuer, request.account_id, self._clock())
        return wallet_service_pb2.GetBalanceResponse(
            account_id=request.account_id,
            balance=_money_proto(found.account),
            cards=[
                wallet_service_pb2.CardBalance(
                    card_id=card.card_id,
                    medium_token=card.medium_token,
                    balance=_money_proto(balance),
                )
                for card, balance in found.cards
            ],
        )

    def ListJourneys(
        self, request: wallet_service_pb2.ListJourneysRequest, context: grpc.ServicerContext
    ) -> wallet_service_pb2.ListJourneysResponse:
        issuer = self._issuer(context)
        start, end = _time_range(request)
        with self._database.transaction() as session:
            taps = wallets.journeys(session, issuer, request.account_id, start, end)
        return wallet_service_pb2.ListJourneysResponse(taps=[_journey_proto(t) for t in taps])


class ReaderLists:
    """The trust list and deny list as ReaderService serves them, signed with
    the clearing house's key."""

    def __init__(self, database: Database, signing_key: Ed25519PrivateKey) -> None:
        self._database = database
        self._key = signing_key

    def trust_list(self) -> reader_service_pb2.GetTrustListResponse:
        with self._database.transaction() as session:
            version, blob = wallets.signed_trust_list(session, self._key)
        return reader_service_pb2.GetTrustListResponse(version=version, signed_trust_list=blob)

    def deny_list(self, since_version: int) -> reader_service_pb2.GetDenyListResponse:
        with self._database.transaction() as session:
            delta = wallets.deny_list_delta(session, since_version)
            snapshot = wallets.signed_deny_list(session, self._key) if since_version == 0 else b""
        return reader_service_pb2.GetDenyListResponse(
            version=delta.version,
            added=[deny_entry_proto(entry) for entry in delta.added],
            removed=[deny_entry_proto(entry) for entry in delta.removed],
            signed_snapshot=snapshot,
        )
