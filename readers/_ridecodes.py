"""``RideCodeGate``: offline QR ride code checks at a fare gate.

The gate needs no network to admit a rider: the clearing house's signed trust
list says which wallet providers' credentials to believe, its signed deny list
says whom to refuse, and the gate's own memory (a ``ReplayGuard``) refuses
copies of codes it already admitted. The lists are refreshed whenever the
reader is online; a list older than the one in use is refused, so a replayed
old deny list cannot lift a block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from farebridge.codecs.ridecode import (
    DEFAULT_FRESHNESS,
    DEFAULT_FUTURE_SKEW,
    DenyList,
    ReplayGuard,
    TrustList,
    VerifiedRide,
    verify_code,
)
from readers._errors import ReaderError


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RideCodeGate:
    """Admits or refuses scanned ride codes, one at a time, offline.

    ``admit`` returns the ``VerifiedRide`` to record as a tap, or raises a
    ``farebridge.codecs.ridecode.RideCodeRejectedError`` subclass whose
    ``reason`` is what the gate should display. Threads may share a gate.
    """

    def __init__(
        self,
        trust_list: TrustList,
        deny_list: DenyList,
        *,
        freshness: timedelta = DEFAULT_FRESHNESS,
        future_skew: timedelta = DEFAULT_FUTURE_SKEW,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._trust_list = trust_list
        self._deny_list = deny_list
        self._freshness = freshness
        self._future_skew = future_skew
        self._clock = clock
        self._guard = ReplayGuard()
        self._lock = threading.Lock()

    @property
    def trust_list(self) -> TrustList:
        return self._trust_list

    @property
    def deny_list(self) -> DenyList:
        return self._deny_list

    def admit(self, text: str, now: datetime | None = None) -> VerifiedRide:
        """Verifies the scanned ``text`` at ``now`` (default: the gate's clock)."""
        moment = self._clock() if now is None else now
        with self._lock:
            return verify_code(
                text,
                self._trust_list,
                self._deny_list,
                moment,
                self._guard,
                freshness=self._freshness,
                future_skew=self._future_skew,
            )

    def replace_trust_list(self, trust_list: TrustList) -> None:
        """Switches to a newer trust list (open it with ``open_trust_list``).
        Raises ReaderError, keeping the current list, if it is older."""
        with self._lock:
            _check_not_older("trust list", trust_list.version, self._trust_list.version)
            self._trust_list = trust_list

    def replace_deny_list(self, deny_list: DenyList) -> None:
        """Switches to a newer deny list (open it with ``open_deny_list``).
        Raises ReaderError, keeping the current list, if it is older."""
        with self._lock:
            _check_not_older("deny list", deny_list.version, self._deny_list.version)
            self._deny_list = deny_list


def _check_not_older(what: str, offered: int, current: int) -> None:
    if offered < current:
        raise ReaderError(
            f"{what} version {offered} is older than version {current} in use; kept {current}"
        )
