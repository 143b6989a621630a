"""The ledger contract: accounts, transfers, flags and result codes.

Modelled on TigerBeetle's, so that its documentation reads true for ours:
every transfer debits one account and credits another by the same amount in
the same currency; a transfer id is chosen by the client and is forever
bound to its content; a pending transfer is posted (fully or partly) or
voided at most once, or expires after its timeout; linked transfers succeed
or fail together; balance limits hold after every transfer.

Differences, on purpose: the ``ledger`` number is an ISO 4217 currency code;
``code`` is a short reason text (``fare``, ``top_up``); ``user_data`` is one
text field (a tap id, a top-up id); amounts must be positive (a post may give
0 to mean "the whole pending amount").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntFlag, StrEnum
from typing import NamedTuple

from clearing.values import Currency, MediumToken, ParticipantId

MAX_AMOUNT = 2**63 - 1  # amounts and balances are stored as signed 64-bit integers
ZERO_ID = uuid.UUID(int=0)
MAX_ID = uuid.UUID(int=2**128 - 1)


class AccountFlags(IntFlag):
    """Account flags, with TigerBeetle's bit positions."""

    NONE = 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1
    """Posted plus pending debits may never exceed posted credits (stored value)."""
    CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2
    """Posted plus pending credits may never exceed posted debits."""
    CLOSED = 1 << 5
    """No transfer may move money in or out of the account any more."""


class TransferFlags(IntFlag):
    """Transfer flags, with TigerBeetle's bit positions."""

    NONE = 0
    LINKED = 1 << 0
    """This transfer and the next one succeed or fail together."""
    PENDING = 1 << 1
    """Reserve the amount now; post or void it later (two-phase)."""
    POST_PENDING = 1 << 2
    """Post the pending transfer named by ``pending_id`` (fully or partly)."""
    VOID_PENDING = 1 << 3
    """Void the pending transfer named by ``pending_id``."""


KNOWN_TRANSFER_FLAGS = (
    TransferFlags.LINKED
    | TransferFlags.PENDING
    | TransferFlags.POST_PENDING
    | TransferFlags.VOID_PENDING
)


class TransferResult(StrEnum):
    """Why a transfer was or was not created, in descending precedence: when
    several apply, the first listed is answered."""

    OK = "ok"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    RESERVED_FLAG = "reserved_flag"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    ID_MUST_NOT_BE_INT_MAX = "id_must_not_be_int_max"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_PENDING_ID = "exists_with_different_pending_id"
    EXISTS_WITH_DIFFERENT_TIMEOUT = "exists_with_different_timeout"
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = "exists_with_different_debit_account_id"
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = "exists_with_different_credit_account_id"
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_USER_DATA = "exists_with_different_user_data"
    EXISTS_WITH_DIFFERENT_CURRENCY = "exists_with_different_currency"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS = "exists"
    ID_ALREADY_FAILED = "id_already_failed"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "debit_account_id_must_not_be_zero"
    CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "credit_account_id_must_not_be_zero"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    PENDING_ID_MUST_BE_ZERO = "pending_id_must_be_zero"
    PENDING_ID_MUST_NOT_BE_ZERO = "pending_id_must_not_be_zero"
    PENDING_ID_MUST_BE_DIFFERENT = "pending_id_must_be_different"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    CURRENCY_MUST_NOT_BE_EMPTY = "currency_must_not_be_empty"
    CODE_MUST_NOT_BE_EMPTY = "code_must_not_be_empty"
    AMOUNT_MUST_NOT_BE_ZERO = "amount_must_not_be_zero"
    DEBIT_ACCOUNT_NOT_FOUND = "debit_account_not_found"
    CREDIT_ACCOUNT_NOT_FOUND = "credit_account_not_found"
    ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY = "accounts_must_have_the_same_currency"
    TRANSFER_MUST_HAVE_THE_SAME_CURRENCY_AS_ACCOUNTS = (
        "transfer_must_have_the_same_currency_as_accounts"
    )
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID = (
        "pending_transfer_has_different_debit_account_id"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID = (
        "pending_transfer_has_different_credit_account_id"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY = "pending_transfer_has_different_currency"
    PENDING_TRANSFER_HAS_DIFFERENT_CODE = "pending_transfer_has_different_code"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    DEBIT_ACCOUNT_ALREADY_CLOSED = "debit_account_already_closed"
    CREDIT_ACCOUNT_ALREADY_CLOSED = "credit_account_already_closed"
    OVERFLOWS_DEBITS = "overflows_debits"
    OVERFLOWS_CREDITS = "overflows_credits"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"


# A transfer that failed for one of these reasons failed because of the state
# of the ledger at that moment, not because of its own fields. Its id stays
# failed, so that a retry cannot succeed later against a different state.
TRANSIENT_RESULTS = frozenset(
    {
        TransferResult.DEBIT_ACCOUNT_NOT_FOUND,
        TransferResult.CREDIT_ACCOUNT_NOT_FOUND,
        TransferResult.PENDING_TRANSFER_NOT_FOUND,
        TransferResult.PENDING_TRANSFER_EXPIRED,
        TransferResult.DEBIT_ACCOUNT_ALREADY_CLOSED,
        TransferResult.CREDIT_ACCOUNT_ALREADY_CLOSED,
        TransferResult.OVERFLOWS_DEBITS,
        TransferResult.OVERFLOWS_CREDITS,
        TransferResult.EXCEEDS_CREDITS,
        TransferResult.EXCEEDS_DEBITS,
    }
)


class AccountResult(StrEnum):
    """Results of creating an account, in descending precedence."""

    OK = "ok"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    ID_MUST_NOT_BE_INT_MAX = "id_must_not_be_int_max"
    CURRENCY_MUST_NOT_BE_EMPTY = "currency_must_not_be_empty"
    CODE_MUST_NOT_BE_EMPTY = "code_must_not_be_empty"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_PARTICIPANT = "exists_with_different_participant"
    EXISTS_WITH_DIFFERENT_CURRENCY = "exists_with_different_currency"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS_WITH_DIFFERENT_MEDIUM_TOKEN = "exists_with_different_medium_token"  # noqa: S105
    EXISTS = "exists"


@dataclass(frozen=True, slots=True)
class Account:
    """A ledger account.

    account_id: 128-bit id chosen by the creator (derived ids are fine).
    participant_id: who owns the money in it; positions are summed per owner.
    currency: the only currency it moves (TigerBeetle's ``ledger``).
    code: what it holds, such as ``rider_funds`` or ``fare_revenue``.
    flags: balance limits and whether it is closed.
    medium_token: the medium a rider account funds, or None.
    """

    account_id: uuid.UUID
    participant_id: ParticipantId
    currency: Currency
    code: str
    flags: AccountFlags = AccountFlags.NONE
    medium_token: MediumToken | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's four counters, in minor units. Pending amounts are those
    of pending transfers neither resolved nor expired."""

    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    def add(
        self,
        *,
        debits_pending: int = 0,
        debits_posted: int = 0,
        credits_pending: int = 0,
        credits_posted: int = 0,
    ) -> Balance:
        return Balance(
            self.debits_pending + debits_pending,
            self.debits_posted + debits_posted,
            self.credits_pending + credits_pending,
            self.credits_posted + credits_posted,
        )


class TransferRequest(NamedTuple):
    """A transfer as a client submits it.

    Requests and transfers are named tuples rather than frozen dataclasses:
    every tap makes one of each, and a frozen dataclass of ten fields costs
    four times as much to build (about 1 µs, a twentieth of a ledger
    transfer's whole cost on SQLite).

    For post and void, the accounts, currency, code and amount may be left
    empty (None / "" / 0): they are taken from the pending transfer. A post's
    amount may be less than the pending amount; the rest is released.
    timeout: seconds until a pending transfer expires; 0 means never.
    """

    transfer_id: uuid.UUID
    debit_account_id: uuid.UUID | None
    credit_account_id: uuid.UUID | None
    amount: int
    currency: Currency | None
    code: str
    user_data: str = ""
    flags: TransferFlags = TransferFlags.NONE
    pending_id: uuid.UUID | None = None
    timeout: int = 0


class Transfer(NamedTuple):
    """A committed transfer, exactly as stored and logged.

    For a post or void, the accounts, currency and code are those of the
    pending transfer, and ``amount`` is what was posted (or the pending
    amount that was voided).
    """

    transfer_id: uuid.UUID
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    currency: Currency
    code: str
    user_data: str
    flags: TransferFlags
    pending_id: uuid.UUID | None
    timeout: int
    timestamp: datetime

    @property
    def expires_at(self) -> datetime | None:
        if not self.flags & TransferFlags.PENDING or self.timeout == 0:
            return None
        return self.timestamp + timedelta(seconds=self.timeout)

    @property
    def moves_posted_balance(self) -> bool:
        """Single-phase transfers and posts move money; pendings and voids do not."""
        return not self.flags & (TransferFlags.PENDING | TransferFlags.VOID_PENDING)


class PendingState(StrEnum):
    """What became of a pending transfer."""

    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"
