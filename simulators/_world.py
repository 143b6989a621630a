"""Setting the city up at the clearing house, each party with its own
certificate: participants, fares, devices, card schemes, cards, wallet
accounts and ride credentials, and the readers' gates."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.pki import PkiLayout, load_signing_key
from farebridge.codecs import generate_device_key, public_key_bytes
from farebridge.v1 import (
    clearing_service_pb2,
    clearing_service_pb2_grpc,
    common_pb2,
    registry_service_pb2,
    registry_service_pb2_grpc,
)
from readers import ListSync, Reader, RideCodeGate, ServerConnection
from simulators._card import SimulatedCard
from simulators._city import (
    CLEARING_HOUSE,
    CURRENCY,
    FX_RATES,
    City,
    Device,
    MediumKind,
    Rider,
)
from wallets import RideCodeWallet, WalletClient

T = TypeVar("T")
_RETRIED = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)
_CARD_AID = bytes.fromhex("F21040")
_CARD_SYSTEM = b"farebridge-sim"


def retried(call: Callable[[], T], attempts: int = 60) -> T:
    """Runs an idempotent call until the server answers: a restarting server
    is unavailable for a second or two, and every write here carries its key."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except grpc.RpcError as error:
            # grpc-stubs declares RpcError and Call incompatible; they are not.
            failed: object = error
            code = failed.code() if isinstance(failed, grpc.Call) else None
            if code not in _RETRIED or attempt == attempts:
                raise
            time.sleep(min(1.0, 0.05 * attempt))
    raise AssertionError("unreachable")


def parallel(threads: int, work: Callable[[T], None], items: Iterable[T]) -> None:
    """Runs ``work`` on every item on ``threads`` threads; re-raises the first error."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(work, items):
            pass


class Parties:
    """One mTLS channel per participant, each with its own certificate.

    ``reader_address`` is where readers upload (the server, or a faulty link
    in front of it); everything else talks to the server directly.
    """

    def __init__(self, layout: PkiLayout, address: str, reader_address: str) -> None:
        self.layout = layout
        self.address = address
        self.reader_address = reader_address
        self._channels: dict[str, grpc.Channel] = {}

    def connection(self, participant_id: str, *, for_readers: bool = False) -> ServerConnection:
        return ServerConnection.from_files(
            self.reader_address if for_readers else self.address,
            self.layout.ca_cert,
            self.layout.client_cert(participant_id),
            self.layout.client_key(participant_id),
        )

    def channel(self, participant_id: str) -> grpc.Channel:
        if participant_id not in self._channels:
            self._channels[participant_id] = self.connection(participant_id).channel()
        return self._channels[participant_id]

    def registry(self, participant_id: str) -> registry_service_pb2_grpc.RegistryServiceStub:
        return registry_service_pb2_grpc.RegistryServiceStub(self.channel(participant_id))

    def clearing(self, participant_id: str) -> clearing_service_pb2_grpc.ClearingServiceStub:
        return clearing_service_pb2_grpc.ClearingServiceStub(self.channel(participant_id))

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()


@dataclass
class Installed:
    """What the city holds once set up: readers with their gates and
    clocks, cards, wallets, and each wallet provider's back end."""

    readers: dict[str, Reader] = field(default_factory=dict)
    gates: dict[str, RideCodeGate] = field(default_factory=dict)
    skews: dict[str, timedelta] = field(default_factory=dict)
    cards: dict[str, SimulatedCard] = field(default_factory=dict)
    wallets: dict[str, RideCodeWallet] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    clients: dict[str, WalletClient] = field(default_factory=dict)
    list_syncs: dict[str, ListSync] = field(default_factory=dict)

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
        for client in self.clients.values():
            client.close()


def admit(parties: Parties, city: City) -> None:
    registry = parties.registry(CLEARING_HOUSE)
    roles = [(o.participant_id, o.display_name, common_pb2.PARTICIPANT_ROLE_OPERATOR, CURRENCY)
             for o in city.operators]  # fmt: skip
    roles += [(i.participant_id, i.display_name, common_pb2.PARTICIPANT_ROLE_ISSUER, i.currency)
              for i in city.issuers]  # fmt: skip
    for participant_id, name, role, currency in roles:
        participant = registry_service_pb2.Participant(
            participant_id=participant_id,
            display_name=name,
            role=role,
            settlement_currency=currency,
        )
        request = registry_service_pb2.RegisterParticipantRequest(participant=participant)
        retried(partial(registry.RegisterParticipant, request))
    clearing = parties.clearing(CLEARING_HOUSE)
    for operator in city.operators:
        fare = clearing_service_pb2.FlatFare(
            operator_id=operator.participant_id,
            mode=operator.mode,
            fare=common_pb2.Money(minor_units=operator.fare_minor, currency=CURRENCY),
        )
        fare_request = clearing_service_pb2.SetFlatFareRequest(flat_fare=fare)
        retried(partial(clearing.SetFlatFare, fare_request))
    rates = [
        clearing_service_pb2.FxRate(from_currency=source, to_currency=target, rate=rate)
        for source, target, rate in FX_RATES
    ]
    fx_request = clearing_service_pb2.PublishFxRatesRequest(rates=rates)
    retried(partial(clearing.PublishFxRates, fx_request))


def _register_device(parties: Parties, device: Device, public_key: bytes) -> None:
    message = registry_service_pb2.Device(
        device_id=device.device_id, public_key=public_key, stop_id=device.stop_id, mode=device.mode
    )
    request = registry_service_pb2.RegisterDeviceRequest(device=message)
    retried(lambda: parties.registry(device.operator_id).RegisterDevice(request))


def _skewed(clock: Callable[[], datetime], skew: timedelta) -> Callable[[], datetime]:
    def reader_clock() -> datetime:
        return clock() + skew

    return reader_clock


def install_readers(
    parties: Parties,
    city: City,
    state_dir: Path,
    installed: Installed,
    *,
    clock: Callable[[], datetime],
    skews: dict[str, timedelta],
) -> None:
    """A reader per device with one; vehicles without a reader are
    registered too (their id and route are what their QR names)."""
    for device in city.devices:
        if device.scan_only:
            _register_device(parties, device, public_key_bytes(generate_device_key()))
            continue
        skew = skews.get(device.device_id, timedelta(0))
        reader = Reader(
            device.device_id,
            state_dir / device.device_id,
            parties.connection(device.operator_id, for_readers=True),
            max_batch_taps=200,
            clock=_skewed(clock, skew),
        )
        _register_device(parties, device, reader.public_key)
        installed.readers[device.device_id] = reader
        installed.skews[device.device_id] = skew


def issue_cards(parties: Parties, city: City, seed: int, installed: Installed) -> None:
    """Each card issuer registers its scheme (master key drawn from the
    seed) and every card's UID; the cards are personalized with that key."""
    for issuer in (i for i in city.issuers if i.media is MediumKind.CARD):
        master_key = random.Random(f"master/{seed}/{issuer.participant_id}").randbytes(16)
        scheme = registry_service_pb2.CardScheme(
            aid=_CARD_AID, system_identifier=_CARD_SYSTEM, master_key=master_key
        )
        registry = parties.registry(issuer.participant_id)
        request = registry_service_pb2.RegisterCardSchemeRequest(scheme=scheme)
        retried(partial(registry.RegisterCardScheme, request))
        for rider in city.riders:
            if rider.issuer_id != issuer.participant_id:
                continue
            medium = registry_service_pb2.Medium(
                medium_token=rider.rider_id, card_uid=rider.card_uid
            )
            medium_request = registry_service_pb2.RegisterMediumRequest(medium=medium)
            retried(partial(registry.RegisterMedium, medium_request))
            installed.cards[rider.rider_id] = SimulatedCard.issue(
                rider.rider_id,
                rider.card_uid,
                master_key=master_key,
                aid=_CARD_AID,
                system_identifier=_CARD_SYSTEM,
                balance_minor=rider.balance_minor,
            )
            installed.tokens[rider.rider_id] = rider.rider_id


def open_wallets(
    parties: Parties,
    city: City,
    phones_dir: Path,
    expires_at: datetime,
    installed: Installed,
    *,
    threads: int,
) -> None:
    """Every wallet rider gets an account and a ride credential for a key
    made on their phone; the phone keeps its counter in its own file."""
    phones_dir.mkdir(parents=True, exist_ok=True)
    for issuer in (i for i in city.issuers if i.media is MediumKind.RIDE_CODE):
        installed.clients[issuer.participant_id] = WalletClient(
            parties.connection(issuer.participant_id), timeout=30
        )
    wallet_riders = [
        (serial, rider)
        for serial, rider in enumerate(city.riders, start=1)
        if rider.kind is MediumKind.RIDE_CODE
    ]

    def open_one(item: tuple[int, Rider]) -> None:
        serial, rider = item
        client = installed.clients[rider.issuer_id]
        account = retried(lambda: client.open_account(rider.rider_id, "adult"))
        phone_key = Ed25519PrivateKey.generate()
        credential = retried(
            lambda: client.issue_ride_credential(
                rider.rider_id, public_key_bytes(phone_key), expires_at, serial
            )
        )
        installed.tokens[rider.rider_id] = account.medium_token
        installed.wallets[rider.rider_id] = RideCodeWallet(
            credential, phone_key, phones_dir / f"{rider.rider_id}.json"
        )

    parallel(threads, open_one, wallet_riders)


def open_gates(parties: Parties, city: City, installed: Installed, threads: int) -> None:
    """Each reader downloads the signed trust list and deny list once, over
    its operator's connection."""
    house_key = load_signing_key(parties.layout).public_key()
    syncs = {
        o.participant_id: ListSync(parties.connection(o.participant_id), house_key)
        for o in city.operators
    }
    installed.list_syncs = {
        d.device_id: syncs[d.operator_id] for d in city.devices if d.device_id in installed.readers
    }

    def open_one(device_id: str) -> None:
        installed.gates[device_id] = retried(installed.list_syncs[device_id].new_gate)

    parallel(threads, open_one, list(installed.readers))
