"""A stored-value card as the simulated city's riders carry it.

It behaves as a real Octopus- or T-money-style card does towards a reader:
it keeps its own purse and transaction counter, refuses to pay more than it
holds, and signs every debit and load with its diversified key, so clearing
checks simulated traffic exactly as it would check real cards.
"""

from __future__ import annotations

from datetime import datetime

from farebridge.codecs.cards import (
    CardDebit,
    CardLoad,
    CardState,
    card_key,
    sign_debit,
    sign_load,
)

_COUNTER_MAX = 2**32 - 1  # the counter is a uint32 in what the card signs


class SimulatedCardError(Exception):
    """Root of the errors a simulated card raises when it refuses a command."""


class InsufficientBalanceError(SimulatedCardError):
    """The purse holds less than the fare. A real card refuses too and the
    gate stays shut: top the card up (``load``) or charge less."""


class CounterExhaustedError(SimulatedCardError):
    """The card has used all 2^32 - 1 counter values and can sign nothing
    more. Real cards are retired long before; issue a new card."""


class SimulatedCard:
    """One card: its identity, its key, its purse and its counter.

    The counter starts at ``counter`` (0 for a new card) and every debit or
    load signs the next value; a refused command changes nothing.
    """

    def __init__(
        self,
        card_id: str,
        uid: bytes,
        key: bytes,
        *,
        balance_minor: int = 0,
        counter: int = 0,
    ) -> None:
        self._card_id = card_id
        self._uid = uid
        self._key = key
        self._balance_minor = balance_minor
        self._counter = counter

    @classmethod
    def issue(
        cls,
        card_id: str,
        uid: bytes,
        *,
        master_key: bytes,
        aid: bytes,
        system_identifier: bytes,
        balance_minor: int = 0,
    ) -> SimulatedCard:
        """Personalizes a new card as its issuer would: the key diversified
        from ``master_key`` for this UID, counter 0."""
        key = card_key(master_key, uid, aid, system_identifier)
        return cls(card_id, uid, key, balance_minor=balance_minor)

    @property
    def card_id(self) -> str:
        return self._card_id

    @property
    def uid(self) -> bytes:
        return self._uid

    @property
    def balance_minor(self) -> int:
        return self._balance_minor

    @property
    def counter(self) -> int:
        return self._counter

    @property
    def state(self) -> CardState:
        """What clearing should know of this card once it has seen everything."""
        return CardState(self._counter, self._balance_minor)

    def debit(self, amount_minor: int, device_id: str, at: datetime) -> CardDebit:
        """Pays ``amount_minor`` at ``device_id``. Raises InsufficientBalanceError
        when the purse holds less, and CardRecordError for a negative amount."""
        if amount_minor > self._balance_minor:
            raise InsufficientBalanceError(
                f"card {self._card_id} holds {self._balance_minor}, cannot pay {amount_minor}"
            )
        debit = sign_debit(
            self._key,
            card_id=self._card_id,
            counter=self._next_counter(),
            amount_minor=amount_minor,
            balance_after_minor=self._balance_minor - amount_minor,
            device_id=device_id,
            tapped_at=at,
        )
        self._commit(debit.counter, debit.balance_after_minor)
        return debit

    def load(self, amount_minor: int, device_id: str, at: datetime) -> CardLoad:
        """Adds ``amount_minor`` at top-up point ``device_id``. Raises
        CardRecordError for a negative amount."""
        load = sign_load(
            self._key,
            card_id=self._card_id,
            counter=self._next_counter(),
            amount_minor=amount_minor,
            balance_after_minor=self._balance_minor + amount_minor,
            device_id=device_id,
            loaded_at=at,
        )
        self._commit(load.counter, load.balance_after_minor)
        return load

    def _next_counter(self) -> int:
        if self._counter >= _COUNTER_MAX:
            raise CounterExhaustedError(f"card {self._card_id} has no counter values left")
        return self._counter + 1

    def _commit(self, counter: int, balance_minor: int) -> None:
        self._counter, self._balance_minor = counter, balance_minor

    def __repr__(self) -> str:
        return (
            f"SimulatedCard({self._card_id!r}, balance_minor={self._balance_minor}, "
            f"counter={self._counter})"
        )
