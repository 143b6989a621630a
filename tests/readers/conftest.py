"""Fixtures for the reader SDK: a throwaway PKI, an in-process clearing house
speaking ReaderService over real mTLS sockets, and readers in temp dirs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID
from google.protobuf import any_pb2
from google.rpc import status_pb2
from grpc_status import rpc_status

from farebridge.codecs import BatchSignatureError, open_batch, peek_batch, public_key_from_bytes
from farebridge.v1 import common_pb2, reader_service_pb2, reader_service_pb2_grpc, tap_pb2
from readers import Reader, ServerConnection

OPERATOR = "operator-metro"
ALIASED_HOST = "clearing.farebridge.test"
START = dt.datetime(2025, 3, 14, 8, 0, tzinfo=dt.UTC)
CLOCK_SKEW = dt.timedelta(minutes=5)
Rs = reader_service_pb2


# ---------------------------------------------------------------- PKI


@dataclass(frozen=True)
class Pki:
    """PEM bytes of one CA and the certificates it signed."""

    ca_cert: bytes
    server_cert: bytes
    server_key: bytes
    aliased_server_cert: bytes  # names only aliased_host, not 127.0.0.1
    aliased_host: str
    client_cert: bytes
    client_key: bytes


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    names: list[x509.GeneralName],
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki() -> Pki:
    pem = serialization.Encoding.PEM
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("farebridge test CA", ca_key, None, [])
    signer = (ca.subject, ca_key)
    local = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = _certificate("clearing", server_key, signer, local)
    aliased = _certificate("clearing", server_key, signer, [x509.DNSName(ALIASED_HOST)])
    client = _certificate(OPERATOR, client_key, signer, [])
    return Pki(
        ca_cert=ca.public_bytes(pem),
        server_cert=server.public_bytes(pem),
        server_key=_pem_key(server_key),
        aliased_server_cert=aliased.public_bytes(pem),
        aliased_host=ALIASED_HOST,
        client_cert=client.public_bytes(pem),
        client_key=_pem_key(client_key),
    )


# ---------------------------------------------------------------- the fake clearing house


@dataclass
class FakeClearingHouse(reader_service_pb2_grpc.ReaderServiceServicer):
    """ReaderService as the contract describes it, in memory, with faults on demand.

    Knobs: ``down`` aborts every stream with UNAVAILABLE; ``lose_ack_after``
    commits that many more batches, then drops the stream before answering the
    last one (a lost acknowledgement); ``answer_in_groups`` holds answers until
    that many batches arrived (which only a pipelining client survives).
    """

    devices: dict[str, tuple[str, Ed25519PublicKey]] = field(default_factory=dict)
    taps: dict[str, tap_pb2.Tap] = field(default_factory=dict)
    batches: list[tap_pb2.TapBatch] = field(default_factory=list)
    streams: int = 0
    down: bool = False
    lose_ack_after: int | None = None
    answer_in_groups: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, device_id: str, public_key: bytes, operator_id: str = OPERATOR) -> None:
        self.devices[device_id] = (operator_id, public_key_from_bytes(public_key))

    def SubmitTaps(self, request_iterator: Any, context: Any) -> Iterator[Rs.SubmitTapsResponse]:
        with self.lock:
            self.streams += 1
        if self.down:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the clearing house is down")
        held: list[Rs.SubmitTapsResponse] = []
        for request in request_iterator:
            held.append(self._commit(request.signed_batch, context))
            if len(held) >= self.answer_in_groups:
                yield from held
                held.clear()
        yield from held

    def _commit(self, signed: tap_pb2.SignedTapBatch, context: Any) -> Rs.SubmitTapsResponse:
        batch = self._authenticate(signed, context)
        with self.lock:
            results = [self._store(tap) for tap in batch.taps]
            self.batches.append(batch)
            lose_ack = self.lose_ack_after is not None and self._count_down()
        if lose_ack:
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset after commit")
        return Rs.SubmitTapsResponse(batch_id=batch.batch_id, results=results)

    def _count_down(self) -> bool:
        assert self.lose_ack_after is not None
        self.lose_ack_after -= 1
        if self.lose_ack_after > 0:
            return False
        self.lose_ack_after = None
        return True

    def _authenticate(self, signed: tap_pb2.SignedTapBatch, context: Any) -> tap_pb2.TapBatch:
        claimed = peek_batch(signed)
        if claimed.device_id not in self.devices:
            _refuse(
                context, claimed, grpc.StatusCode.NOT_FOUND, Rs.BATCH_REJECT_REASON_UNKNOWN_DEVICE
            )
        owner, key = self.devices[claimed.device_id]
        if owner != _caller(context):
            _refuse(
                context,
                claimed,
                grpc.StatusCode.PERMISSION_DENIED,
                Rs.BATCH_REJECT_REASON_FOREIGN_DEVICE,
            )
        if len(claimed.taps) > 1000:
            _refuse(
                context, claimed, grpc.StatusCode.INVALID_ARGUMENT, Rs.BATCH_REJECT_REASON_TOO_LARGE
            )
        try:
            return open_batch(signed, key)
        except BatchSignatureError:
            _refuse(
                context,
                claimed,
                grpc.StatusCode.UNAUTHENTICATED,
                Rs.BATCH_REJECT_REASON_BAD_SIGNATURE,
            )
            raise

    def _store(self, tap: tap_pb2.Tap) -> Rs.TapResult:
        if tap.tapped_at.ToDatetime(dt.UTC) > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
            return _rejected(tap, Rs.TAP_REJECT_REASON_FUTURE_TIME, "tapped_at is in the future")
        known = self.taps.get(tap.tap_id)
        if known is None:
            self.taps[tap.tap_id] = tap
            return Rs.TapResult(tap_id=tap.tap_id, status=Rs.TAP_STATUS_ACCEPTED)
        if known != tap:
            return _rejected(tap, Rs.TAP_REJECT_REASON_TAP_ID_CONFLICT, "different content")
        return Rs.TapResult(tap_id=tap.tap_id, status=Rs.TAP_STATUS_DUPLICATE)


def _rejected(tap: tap_pb2.Tap, reason: Rs.TapRejectReason.ValueType, detail: str) -> Rs.TapResult:
    return Rs.TapResult(
        tap_id=tap.tap_id, status=Rs.TAP_STATUS_REJECTED, reject_reason=reason, detail=detail
    )


def _caller(context: Any) -> str:
    (common_name,) = context.auth_context()["x509_common_name"]
    return bytes(common_name).decode()


def _refuse(
    context: Any,
    batch: tap_pb2.TapBatch,
    code: grpc.StatusCode,
    reason: Rs.BatchRejectReason.ValueType,
) -> None:
    detail = any_pb2.Any()
    detail.Pack(
        Rs.BatchRejection(batch_id=batch.batch_id, device_id=batch.device_id, reason=reason)
    )
    status = status_pb2.Status(
        code=code.value[0],
        message=f"batch refused: {Rs.BatchRejectReason.Name(reason)}",
        details=[detail],
    )
    context.abort_with_status(rpc_status.to_status(status))


@dataclass(frozen=True)
class RunningClearingHouse:
    address: str
    fake: FakeClearingHouse


StartClearingHouse = Callable[..., RunningClearingHouse]


@pytest.fixture
def start_clearing_house(pki: Pki) -> Iterator[StartClearingHouse]:
    """Starts fake clearing houses on 127.0.0.1 with mTLS; stops them all after the test."""
    running: list[tuple[grpc.Server, ThreadPoolExecutor]] = []

    def start(*, server_cert: bytes | None = None) -> RunningClearingHouse:
        fake = FakeClearingHouse()
        executor = ThreadPoolExecutor(max_workers=8)
        server = grpc.server(executor)
        reader_service_pb2_grpc.add_ReaderServiceServicer_to_server(fake, server)
        credentials = grpc.ssl_server_credentials(
            [(pki.server_key, server_cert or pki.server_cert)],
            root_certificates=pki.ca_cert,
            require_client_auth=True,
        )
        port = server.add_secure_port("127.0.0.1:0", credentials)
        server.start()
        running.append((server, executor))
        return RunningClearingHouse(f"127.0.0.1:{port}", fake)

    yield start
    for server, executor in running:
        server.stop(grace=None).wait()
        executor.shutdown(wait=True)


@pytest.fixture
def clearing_house(start_clearing_house: StartClearingHouse) -> RunningClearingHouse:
    return start_clearing_house()


@pytest.fixture
def connection(pki: Pki, clearing_house: RunningClearingHouse) -> ServerConnection:
    return ServerConnection(clearing_house.address, pki.ca_cert, pki.client_cert, pki.client_key)


# ---------------------------------------------------------------- readers


OpenReader = Callable[..., Reader]


@pytest.fixture
def open_reader(
    tmp_path: Path, clearing_house: RunningClearingHouse, connection: ServerConnection
) -> Iterator[OpenReader]:
    """Opens a Reader (by default registered with the clearing house, state in
    ``tmp_path/<device_id>``) and closes every one opened when the test ends."""
    opened: list[Reader] = []

    def open_(device_id: str = "metro-gate-1", *, register: bool = True, **options: Any) -> Reader:
        options.setdefault("connection", connection)
        reader = Reader(device_id, tmp_path / device_id, **options)
        opened.append(reader)
        if register:
            clearing_house.fake.register(device_id, reader.public_key)
        return reader

    yield open_
    for reader in opened:
        reader.close()


TapScript = Callable[[Reader, str], list[str]]


@pytest.fixture
def tap_script() -> TapScript:
    """Taps a little timetable, one ``HH:MM ON|OFF token`` per line, on START's day,
    and returns the tap ids."""
    return _tap_script


def _tap_script(reader: Reader, script: str) -> list[str]:
    tap_ids = []
    for line in script.strip().splitlines():
        clock, direction, token = line.split()
        hour, minute = map(int, clock.split(":"))
        tap_ids.append(
            reader.tap(
                token,
                common_pb2.TapDirection.Value(f"TAP_DIRECTION_{direction}"),
                tapped_at=START.replace(hour=hour, minute=minute),
            )
        )
    return tap_ids
