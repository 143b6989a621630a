"""Uploading the queue: pipelined batches on one stream, retried with backoff.

One *attempt* is one ``SubmitTaps`` stream. It keeps up to ``max_in_flight``
signed batches outstanding and records each answer as it arrives, so whatever
the server acknowledged survives any failure that follows. A failed attempt is
classified: a refused batch is permanent (``BatchRejectedError``), a transient
status is retried with capped exponential backoff and full jitter, and what is
still pending is simply sent again (the server dedupes by tap id).
"""

from __future__ import annotations

import queue
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import any_pb2
from grpc_status import rpc_status

from farebridge.codecs import seal_batch
from farebridge.v1 import reader_service_pb2, reader_service_pb2_grpc, tap_pb2
from readers._connection import ServerConnection
from readers._errors import BatchRejectedError, ReaderError, UploadIncompleteError
from readers._queue import StoredTap, TapOutcome, TapQueue, TapState

# The server refuses more than this many taps in one batch. A tap is at most
# about 600 bytes (64-char id, 128-char token of up to 4 UTF-8 bytes each), so a
# full batch also stays well under the 1 MiB message limit.
MAX_BATCH_TAPS = 1000

# Worth retrying: the server or the path to it failed, not our request.
# CANCELLED is here too because a server shutting down cancels open streams.
_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)
# How the server refuses a whole batch (with a BatchRejection detail).
_BATCH_REFUSED = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
    }
)
_STATES: dict[int, TapState] = {
    reader_service_pb2.TAP_STATUS_ACCEPTED: "accepted",
    reader_service_pb2.TAP_STATUS_DUPLICATE: "duplicate",
    reader_service_pb2.TAP_STATUS_REJECTED: "rejected",
}


@dataclass(frozen=True)
class UploadReport:
    """What one ``Reader.upload()`` call achieved.

    Attributes:
        accepted: taps the clearing house newly stored.
        duplicates: taps it already had (for example after a lost acknowledgement).
        rejected: taps it refused one by one; see ``StoredTap.reject_reason``.
        batches: batches answered.
        attempts: streams opened, including the failed ones.
    """

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    attempts: int = 0


@dataclass(frozen=True)
class UploadSettings:
    """Everything an upload needs besides the connection, fixed for one call."""

    device_id: str
    key: Ed25519PrivateKey
    clock: Callable[[], datetime]
    max_batch_taps: int
    max_in_flight: int
    max_attempts: int
    initial_backoff: float
    max_backoff: float
    timeout: float


@dataclass
class _Tally:
    """Running counts, turned into the frozen ``UploadReport`` at the end."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    attempts: int = 0

    def count(self, outcomes: list[TapOutcome]) -> None:
        self.batches += 1
        self.accepted += sum(o.state == "accepted" for o in outcomes)
        self.duplicates += sum(o.state == "duplicate" for o in outcomes)
        self.rejected += sum(o.state == "rejected" for o in outcomes)

    def report(self) -> UploadReport:
        return UploadReport(
            self.accepted, self.duplicates, self.rejected, self.batches, self.attempts
        )


@dataclass(frozen=True)
class _SentBatch:
    batch_id: str
    tap_ids: tuple[str, ...]


class _StreamEndedEarlyError(Exception):
    """The server closed the stream OK while batches were still unanswered."""


def upload(
    connection: ServerConnection, tap_queue: TapQueue, settings: UploadSettings
) -> UploadReport:
    """Uploads every tap pending now; taps made meanwhile wait for the next call,
    so an upload always ends even while riders keep tapping.

    ``max_attempts`` bounds consecutive attempts that make no progress: a long
    backlog on a flaky link keeps draining as long as batches get answered.
    """
    up_to = tap_queue.last_sequence()
    tally = _Tally()
    failures = 0
    while tap_queue.pending_count(up_to):
        tally.attempts += 1
        answered_before = tally.batches
        try:
            _attempt(connection, tap_queue, settings, up_to, tally)
            continue
        except grpc.RpcError as error:
            failure: Exception = error
            code, detail = _transient_or_raise(error)
        except _StreamEndedEarlyError as error:
            failure = error
            code, detail = grpc.StatusCode.UNKNOWN, str(error)
        failures = 1 if tally.batches > answered_before else failures + 1
        if failures >= settings.max_attempts:
            pending = tap_queue.pending_count(up_to)
            raise UploadIncompleteError(pending, code, detail) from failure
        time.sleep(_backoff(failures, settings))
    return tally.report()


def _backoff(failures: int, settings: UploadSettings) -> float:
    """Full jitter (AWS architecture blog): readers knocked offline together
    must not all come back in the same instant."""
    ceiling = min(settings.max_backoff, settings.initial_backoff * 2 ** (failures - 1))
    return random.uniform(0.0, ceiling)


def _attempt(
    connection: ServerConnection,
    tap_queue: TapQueue,
    settings: UploadSettings,
    up_to: int,
    tally: _Tally,
) -> None:
    """One stream on a fresh channel: a new channel does not inherit the old
    one's reconnect backoff, so a server that came back is reached at once."""
    batches = _batches(tap_queue, settings, up_to)
    with connection.channel() as channel:
        stub = reader_service_pb2_grpc.ReaderServiceStub(channel)
        _Stream(stub, batches, tap_queue, tally).run(settings.max_in_flight, settings.timeout)


def _batches(
    tap_queue: TapQueue, settings: UploadSettings, up_to: int
) -> Iterator[tuple[reader_service_pb2.SubmitTapsRequest, _SentBatch]]:
    """Reads and seals batches lazily, so a huge backlog is never all in memory."""
    after = 0
    while taps := tap_queue.pending_between(after, up_to, settings.max_batch_taps):
        after = taps[-1].device_sequence
        yield _seal(taps, settings)


def _seal(
    taps: list[StoredTap], settings: UploadSettings
) -> tuple[reader_service_pb2.SubmitTapsRequest, _SentBatch]:
    batch = tap_pb2.TapBatch(
        device_id=settings.device_id,
        batch_id=str(uuid.uuid4()),
        taps=[tap.wire() for tap in taps],
    )
    batch.sealed_at.FromDatetime(settings.clock())
    request = reader_service_pb2.SubmitTapsRequest(signed_batch=seal_batch(batch, settings.key))
    return request, _SentBatch(batch.batch_id, tuple(tap.tap_id for tap in taps))


class _Stream:
    """Drives one bidirectional ``SubmitTaps`` call.

    All decisions happen on the calling thread; gRPC's sending thread only
    drains ``_outbox``. ``None`` in the outbox half-closes the stream.
    """

    def __init__(
        self,
        stub: reader_service_pb2_grpc.ReaderServiceStub,
        batches: Iterator[tuple[reader_service_pb2.SubmitTapsRequest, _SentBatch]],
        tap_queue: TapQueue,
        tally: _Tally,
    ) -> None:
        self._stub = stub
        self._batches = batches
        self._queue = tap_queue
        self._tally = tally
        self._outbox: queue.SimpleQueue[reader_service_pb2.SubmitTapsRequest | None]
        self._outbox = queue.SimpleQueue()
        self._in_flight: deque[_SentBatch] = deque()

    def run(self, max_in_flight: int, timeout: float) -> None:
        call = self._stub.SubmitTaps(self._requests(), timeout=timeout)
        try:
            for _ in range(max_in_flight):
                self._send_next()
            for response in call:
                self._record(response)
                self._send_next()
            if self._in_flight:
                raise _StreamEndedEarlyError(f"{len(self._in_flight)} batches were never answered")
        finally:
            self._outbox.put(None)  # Frees gRPC's sending thread whatever happened.
            call.cancel()  # type: ignore[no-untyped-call]  # grpc-stubs leaves it unannotated.

    def _requests(self) -> Iterator[reader_service_pb2.SubmitTapsRequest]:
        while (request := self._outbox.get()) is not None:
            yield request

    def _send_next(self) -> None:
        item = next(self._batches, None)
        if item is None:
            self._outbox.put(None)
            return
        request, sent = item
        self._in_flight.append(sent)
        self._outbox.put(request)

    def _record(self, response: reader_service_pb2.SubmitTapsResponse) -> None:
        """Answers arrive in send order; each is committed locally before the next."""
        if not self._in_flight:
            raise ReaderError(f"the server answered batch {response.batch_id!r}, never sent")
        outcomes = _outcomes(self._in_flight.popleft(), response)
        self._queue.record(outcomes)
        self._tally.count(outcomes)


def _outcomes(
    sent: _SentBatch, response: reader_service_pb2.SubmitTapsResponse
) -> list[TapOutcome]:
    """Checks the answer really is for the batch we sent, then reads it."""
    answered = tuple(result.tap_id for result in response.results)
    if response.batch_id != sent.batch_id or answered != sent.tap_ids:
        raise ReaderError(
            f"the server's answer for batch {response.batch_id!r} does not match batch "
            f"{sent.batch_id!r}: the ReaderService protocol was broken"
        )
    return [_outcome(result) for result in response.results]


def _outcome(result: reader_service_pb2.TapResult) -> TapOutcome:
    state = _STATES.get(result.status)
    if state is None:
        raise ReaderError(f"the server gave tap {result.tap_id!r} unknown status {result.status}")
    if state != "rejected":
        return TapOutcome(result.tap_id, state)
    return TapOutcome(result.tap_id, state, result.reject_reason, result.detail)


def _transient_or_raise(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """Returns the status of a transient failure; raises for a permanent one."""
    call: object = error  # grpc-stubs declares RpcError and Call incompatible; they are not.
    if not isinstance(call, grpc.Call):
        raise ReaderError(f"gRPC failed without a status: {error}") from error
    code, detail = call.code(), call.details() or ""
    if code in _TRANSIENT:
        return code, detail
    if code in _BATCH_REFUSED:
        raise _batch_rejected(call, code, detail) from error
    raise ReaderError(f"the server answered {code.name}: {detail}") from error


def _batch_rejected(call: grpc.Call, code: grpc.StatusCode, detail: str) -> BatchRejectedError:
    rejection = _batch_rejection(call)
    if rejection is None:
        return BatchRejectedError(
            reader_service_pb2.BATCH_REJECT_REASON_UNSPECIFIED, code, detail, ""
        )
    return BatchRejectedError(rejection.reason, code, detail, rejection.batch_id)


def _batch_rejection(call: grpc.Call) -> reader_service_pb2.BatchRejection | None:
    """The ``BatchRejection`` packed in the rich status, if the server sent one."""
    try:
        status = rpc_status.from_call(call)
    except ValueError:  # Trailer and status disagree: trust neither's details.
        return None
    details: list[any_pb2.Any] = [] if status is None else list(status.details)
    for packed in details:
        rejection = reader_service_pb2.BatchRejection()
        if packed.Unpack(rejection):
            return rejection
    return None
