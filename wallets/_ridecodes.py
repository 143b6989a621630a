"""``RideCodeWallet``: the phone side of QR ride codes.

The phone holds the rider's Ed25519 key and the credential the wallet provider
issued for it, and draws a fresh code for every scan, with or without network.
Readers refuse a code whose counter does not rise above the last one they
admitted for the credential, so the counter must survive an app restart: it
is written to disk, durably, before the code that uses it is shown.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from farebridge.codecs import public_key_bytes
from farebridge.codecs.durable import write_private
from farebridge.codecs.ridecode import RideCredential, generate_code

_STATE_FORMAT = 1
_MAX_COUNTER = 2**32 - 1


class RideCodeWalletError(Exception):
    """The root of the ride code wallet's errors: catch it alone to handle all."""


class InvalidWalletArgumentError(RideCodeWalletError, ValueError):
    """The wallet was given something it cannot use: a private key that is not
    the one the credential names, or a naive datetime. Fix the call."""


class CredentialRenewalNeededError(RideCodeWalletError):
    """The credential can make no more acceptable codes: it has expired, or its
    counter is used up. Ask the wallet provider to issue a new credential for
    this phone's key, and build a wallet with it. Nothing was written."""


class WalletStateError(RideCodeWalletError):
    """The counter file exists but cannot be read as this wallet's state.

    It is left untouched: starting the counter over would make readers refuse
    the codes as replayed. Restore the file from a backup, or get a new
    credential (its counter starts afresh safely) and a new state file.
    """


class _CounterEntry(TypedDict):
    issuer_id: str
    serial: int
    last_counter: int
    expires_at: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RideCodeWallet:
    """Draws ride codes for one credential, never repeating a counter.

    ``state_path`` is a small JSON file of the last counter used per credential
    (a phone may hold credentials of several issuers in one file). One wallet
    object per file: threads may share it, processes may not.
    """

    def __init__(
        self,
        credential: RideCredential,
        rider_private_key: Ed25519PrivateKey,
        state_path: Path,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if public_key_bytes(rider_private_key) != credential.rider_public_key:
            raise InvalidWalletArgumentError("the private key is not the key the credential names")
        self._credential = credential
        self._key = rider_private_key
        self._path = state_path
        self._clock = clock
        self._lock = threading.Lock()
        self._entries = _load(state_path)

    @property
    def credential(self) -> RideCredential:
        return self._credential

    def next_code(self, at: datetime | None = None) -> str:
        """The QR text of a new code made at ``at`` (default: now).

        The counter is on disk before this returns, so a crash right after it
        cannot make the next code reuse it. Raises CredentialRenewalNeededError
        once the credential has expired or its counter is exhausted.
        """
        moment = self._clock() if at is None else at
        if moment.tzinfo is None:
            raise InvalidWalletArgumentError("at must be timezone-aware (use UTC)")
        if moment >= self._credential.expires_at:
            raise CredentialRenewalNeededError(
                f"the credential expired at {self._credential.expires_at.isoformat()}"
            )
        with self._lock:
            counter = self._reserve_counter(moment)
        return generate_code(self._credential, self._key, moment, counter)

    def _reserve_counter(self, moment: datetime) -> int:
        last = next((e["last_counter"] for e in self._entries if self._is_mine(e)), 0)
        if last >= _MAX_COUNTER:
            raise CredentialRenewalNeededError("the credential's counter is used up")
        mine: _CounterEntry = {
            "issuer_id": self._credential.issuer_id,
            "serial": self._credential.serial,
            "last_counter": last + 1,
            "expires_at": self._credential.expires_at.isoformat(),
        }
        entries = [e for e in self._entries if not self._is_mine(e) and _alive(e, moment)]
        entries.append(mine)
        _store(self._path, entries)
        self._entries = entries
        return last + 1

    def _is_mine(self, entry: _CounterEntry) -> bool:
        return (entry["issuer_id"], entry["serial"]) == (
            self._credential.issuer_id,
            self._credential.serial,
        )


def _alive(entry: _CounterEntry, moment: datetime) -> bool:
    """An expired credential's counter may be forgotten: every code it could
    still make is dated after its expiry, which readers refuse anyway."""
    return datetime.fromisoformat(entry["expires_at"]) > moment


def _load(path: Path) -> list[_CounterEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        document = json.loads(text)
        if document["format"] != _STATE_FORMAT:
            raise WalletStateError(f"{path} has state format {document['format']!r}")
        return [_entry(raw) for raw in document["credentials"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise WalletStateError(f"{path} is not a ride code wallet state file: {exc!r}") from None


def _entry(raw: dict[str, object]) -> _CounterEntry:
    issuer_id, serial, last, expires = (
        raw["issuer_id"],
        raw["serial"],
        raw["last_counter"],
        raw["expires_at"],
    )
    if not (
        isinstance(issuer_id, str)
        and isinstance(serial, int)
        and isinstance(last, int)
        and isinstance(expires, str)
    ):
        raise TypeError(f"a counter entry has fields of the wrong types: {raw!r}")
    datetime.fromisoformat(expires)
    return {"issuer_id": issuer_id, "serial": serial, "last_counter": last, "expires_at": expires}


def _store(path: Path, entries: list[_CounterEntry]) -> None:
    """Replaces the file atomically and durably: a crash leaves either the old
    counter or the new one on disk, never a torn file."""
    data = json.dumps({"format": _STATE_FORMAT, "credentials": entries}, indent=1).encode()
    write_private(path, data, overwrite=True)
