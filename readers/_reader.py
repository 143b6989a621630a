"""``Reader``: what an operator's fare reader calls on every tap and upload."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

from farebridge.codecs import public_key_bytes
from farebridge.codecs.cards import debit_from_bytes
from farebridge.codecs.reader_log import ReaderLogRow, write_reader_log
from farebridge.v1 import common_pb2, reader_service_pb2
from readers._connection import ServerConnection
from readers._device_key import load_or_create_device_key
from readers._errors import InvalidTapError, ReaderError
from readers._queue import StoredTap, TapDirection, TapQueue
from readers._upload import MAX_BATCH_TAPS, UploadReport, UploadSettings, upload

# The clearing house rejects longer values (see TapRejectReason); refusing them
# here tells the caller at the moment of the tap instead of hours later.
MAX_MEDIUM_TOKEN_CHARS = 128
MAX_TAP_ID_CHARS = 64
_DIRECTIONS = (common_pb2.TAP_DIRECTION_ON, common_pb2.TAP_DIRECTION_OFF)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Reader:
    """One fare reader's taps: stored durably offline, uploaded when possible.

    State lives in ``state_dir``: ``device_key.pem`` (the Ed25519 key that
    signs batches; register ``public_key`` with the clearing house) and
    ``queue.sqlite`` (every tap and its fate). Constructing a ``Reader`` on an
    existing ``state_dir`` resumes it: same key, same pending taps, sequence
    numbers continue. One thread may call ``tap()`` while another runs
    ``upload()``.
    """

    def __init__(
        self,
        device_id: str,
        state_dir: Path,
        connection: ServerConnection | None = None,
        *,
        max_batch_taps: int = 500,
        max_in_flight: int = 4,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        _check_settings(device_id, max_batch_taps, max_in_flight)
        self._device_id = device_id
        self._connection = connection
        self._max_batch_taps = max_batch_taps
        self._max_in_flight = max_in_flight
        self._clock = clock
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._key = load_or_create_device_key(state_dir / "device_key.pem")
        self._queue = TapQueue(state_dir / "queue.sqlite", device_id)
        # Two uploads at once would send the same taps twice; harmless, but wasteful.
        self._upload_lock = threading.Lock()

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key to register for this device."""
        return public_key_bytes(self._key)

    def tap(
        self,
        medium_token: str,
        direction: TapDirection,
        *,
        tapped_at: datetime | None = None,
        tap_id: str | None = None,
        card_debit: bytes | None = None,
        ride_code: str | None = None,
    ) -> str:
        """Stores one tap durably and returns its tap id; needs no network.

        ``tapped_at`` defaults to the reader's clock and must be timezone-aware.
        ``tap_id`` defaults to a fresh UUIDv7 (``time_ordered_id``); passing an
        id that is already stored with the same content returns it without
        storing a second tap.
        ``card_debit`` carries a stored-value card's MAC'd debit record
        (``farebridge.codecs.cards.debit_to_bytes``; ``medium_token`` is then
        the card id), ``ride_code`` the QR ride code text the gate admitted.
        Raises ``InvalidTapError`` for anything the clearing house would refuse.
        """
        moment = self._clock() if tapped_at is None else tapped_at
        _check_tap(medium_token, direction, moment, tap_id)
        chosen_id = str(time_ordered_id(moment)) if tap_id is None else tap_id
        if card_debit is not None and ride_code is not None:
            raise InvalidTapError("a tap carries a card debit or a ride code, not both")
        return self._queue.add(
            chosen_id, moment, medium_token, direction, card_debit=card_debit, ride_code=ride_code
        )

    def pending_count(self) -> int:
        """Taps stored locally that the clearing house has not answered yet."""
        return self._queue.pending_count()

    def export_log(self, out: TextIO) -> int:
        """Writes everything this reader saw as a reader log (CSV; schema in
        ``farebridge.codecs.reader_log``) for an auditor; answers the rows."""
        return write_reader_log((_log_row(self.device_id, tap) for tap in self.stored_taps()), out)

    def stored_taps(self) -> list[StoredTap]:
        """Every tap this reader ever stored, in sequence order, with its state."""
        return self._queue.all_taps()

    def upload(
        self,
        *,
        max_attempts: int = 8,
        initial_backoff: float = 0.2,
        max_backoff: float = 5.0,
        timeout: float = 30.0,
    ) -> UploadReport:
        """Sends every tap pending now and records the clearing house's answers.

        Retries transient failures with capped exponential backoff and full
        jitter; ``max_attempts`` bounds consecutive attempts without progress
        and ``timeout`` is the deadline of each stream. Raises
        ``BatchRejectedError`` when the server refuses a batch as a whole and
        ``UploadIncompleteError`` when retries run out; in both cases every
        unanswered tap stays pending. Taps made during the call wait for the next.
        """
        if self._connection is None:
            raise ReaderError("this Reader was created without a ServerConnection")
        settings = self._upload_settings(max_attempts, initial_backoff, max_backoff, timeout)
        with self._upload_lock:
            return upload(self._connection, self._queue, settings)

    def _upload_settings(
        self, max_attempts: int, initial_backoff: float, max_backoff: float, timeout: float
    ) -> UploadSettings:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        if not 0 <= initial_backoff <= max_backoff:
            raise ValueError("backoffs must satisfy 0 <= initial_backoff <= max_backoff")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        return UploadSettings(
            device_id=self._device_id,
            key=self._key,
            clock=self._clock,
            max_batch_taps=self._max_batch_taps,
            max_in_flight=self._max_in_flight,
            max_attempts=max_attempts,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            timeout=timeout,
        )

    def close(self) -> None:
        """Closes the local store. Every tap stored so far is already durable."""
        self._queue.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _check_settings(device_id: str, max_batch_taps: int, max_in_flight: int) -> None:
    if not isinstance(device_id, str) or not device_id:
        raise ValueError("device_id must be a non-empty string")
    if not 1 <= max_batch_taps <= MAX_BATCH_TAPS:
        raise ValueError(f"max_batch_taps must be between 1 and {MAX_BATCH_TAPS}")
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")


def _check_tap(medium_token: str, direction: int, tapped_at: datetime, tap_id: str | None) -> None:
    """Refuses what the clearing house would; None for a tap id lets the reader make one."""
    if not isinstance(medium_token, str) or not 0 < len(medium_token) <= MAX_MEDIUM_TOKEN_CHARS:
        raise InvalidTapError(
            f"medium_token must be a string of 1 to {MAX_MEDIUM_TOKEN_CHARS} characters"
        )
    if direction not in _DIRECTIONS:
        raise InvalidTapError("direction must be TAP_DIRECTION_ON or TAP_DIRECTION_OFF")
    if not isinstance(tapped_at, datetime) or tapped_at.utcoffset() is None:
        raise InvalidTapError("tapped_at (or the reader's clock) must be a timezone-aware datetime")
    if tap_id is not None and (
        not isinstance(tap_id, str) or not 0 < len(tap_id) <= MAX_TAP_ID_CHARS
    ):
        raise InvalidTapError(f"tap_id must be a string of 1 to {MAX_TAP_ID_CHARS} characters")


def _log_row(device_id: str, tap: StoredTap) -> ReaderLogRow:
    counter = debit = None
    if tap.card_debit is not None:
        record = debit_from_bytes(tap.card_debit)
        counter, debit = record.counter, record.amount_minor
    reason = ""
    if tap.reject_reason is not None:
        reason = reader_service_pb2.TapRejectReason.Name(tap.reject_reason)
    return ReaderLogRow(
        tap.tap_id, device_id, tap.device_sequence, tap.tapped_at, tap.medium_token,
        "on" if tap.direction == common_pb2.TAP_DIRECTION_ON else "off",
        tap.state, reason, counter, debit,
    )  # fmt: skip


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def time_ordered_id(moment: datetime) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): ``moment`` in Unix milliseconds, then 74 random
    bits. Tap ids key the clearing house's tap journal; ids in time order
    land next to each other in its index, where random ones would each
    dirty a page of their own."""
    milliseconds = max(0, (moment - _UNIX_EPOCH) // _MILLISECOND) & ((1 << 48) - 1)
    random_bits = secrets.randbits(74)
    value = (
        milliseconds << 80
        | 0x7 << 76
        | (random_bits >> 62) << 64
        | 0b10 << 62
        | random_bits & ((1 << 62) - 1)
    )
    return uuid.UUID(int=value)
