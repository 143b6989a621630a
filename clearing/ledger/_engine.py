"""The pure heart of the ledger: decides each transfer's result.

``plan_transfers`` reads the ledger through a ``LedgerView`` and returns the
result of every request plus the changes to write. It performs no I/O, so
the same code is exercised by the store, by property tests against a model,
and by the simulation. Each request sees the effects of those before it in
the same batch; a linked chain's effects are undone when any member fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from clearing.ledger._contract import (
    KNOWN_TRANSFER_FLAGS,
    MAX_AMOUNT,
    MAX_ID,
    TRANSIENT_RESULTS,
    ZERO_ID,
    Account,
    AccountFlags,
    Balance,
    PendingState,
    Transfer,
    TransferFlags,
    TransferRequest,
)
from clearing.ledger._contract import TransferResult as R

# Plain ints: IntFlag arithmetic costs microseconds per operation, and these
# run for every transfer of every batch.
_LINKED = int(TransferFlags.LINKED)
_PENDING = int(TransferFlags.PENDING)
_RESOLVING = int(TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)
_POST = int(TransferFlags.POST_PENDING)
_PHASE_FLAGS = int(TransferFlags.PENDING | TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)
_KNOWN = int(KNOWN_TRANSFER_FLAGS)
_ZERO = ZERO_ID.int
_MAX = MAX_ID.int
_CLOSED = int(AccountFlags.CLOSED)
_DEBIT_LIMIT = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CREDIT_LIMIT = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)


class LedgerView(Protocol):
    """What the engine may read. ``balance`` may answer None for an account
    without balance limits: its counters are then not needed to decide."""

    def account(self, account_id: uuid.UUID) -> Account | None: ...
    def balance(self, account_id: uuid.UUID) -> Balance | None: ...
    def transfer(self, transfer_id: uuid.UUID) -> Transfer | None: ...
    def failure(self, transfer_id: uuid.UUID) -> R | None: ...
    def pending_state(self, pending_id: uuid.UUID) -> PendingState | None: ...


@dataclass
class LedgerChanges:
    """What a batch writes: new transfers, ids that failed for good, pending
    transfers resolved, and the change to each known balance."""

    transfers: list[Transfer] = field(default_factory=list)
    failures: dict[uuid.UUID, R] = field(default_factory=dict)
    resolutions: dict[uuid.UUID, tuple[PendingState, uuid.UUID]] = field(default_factory=dict)
    balances: dict[uuid.UUID, Balance] = field(default_factory=dict)


class _Overlay:
    """The view plus this batch's effects, with an undo log for linked chains."""

    def __init__(self, view: LedgerView) -> None:
        self.view = view
        self.changes = LedgerChanges()
        self._new: dict[int, Transfer] = {}  # by the integer of the id: it hashes in C
        self._undo: list[tuple[dict[Any, Any], Any, Any]] | None = None

    def transfer(self, transfer_id: uuid.UUID) -> Transfer | None:
        return self._new.get(transfer_id.int) or self.view.transfer(transfer_id)

    def balance(self, account_id: uuid.UUID) -> Balance | None:
        staged = self.changes.balances
        return (staged and staged.get(account_id)) or self.view.balance(account_id)

    def pending_state(self, pending_id: uuid.UUID) -> PendingState | None:
        staged = self.changes.resolutions.get(pending_id)
        return staged[0] if staged else self.view.pending_state(pending_id)

    def begin_chain(self) -> None:
        self._undo = []

    def end_chain(self, *, commit: bool) -> None:
        undo, self._undo = self._undo or [], None
        if commit:
            return
        for table, key, previous in reversed(undo):
            if previous is None:
                table.pop(key, None)
            else:
                table[key] = previous
        kept = set(self._new)
        self.changes.transfers = [t for t in self.changes.transfers if t.transfer_id.int in kept]

    def _put(self, table: dict[Any, Any], key: object, value: object) -> None:
        if self._undo is not None:
            self._undo.append((table, key, table.get(key)))
        table[key] = value

    def set_balance(self, account_id: uuid.UUID, balance: Balance) -> None:
        self._put(self.changes.balances, account_id, balance)

    def add_transfer(self, transfer: Transfer) -> None:
        self._put(self._new, transfer.transfer_id.int, transfer)
        self.changes.transfers.append(transfer)

    def resolve(self, pending_id: uuid.UUID, state: PendingState, by: uuid.UUID) -> None:
        self._put(self.changes.resolutions, pending_id, (state, by))


def plan_transfers(
    view: LedgerView, requests: Sequence[TransferRequest], now: datetime
) -> tuple[list[R], LedgerChanges]:
    """The result of every request, and the changes that the OKs make."""
    overlay = _Overlay(view)
    count = len(requests)
    results: list[R] = [R.OK] * count
    start = 0
    while start < count:
        if not int(requests[start].flags) & _LINKED:  # a chain of one, most transfers
            _run_alone(overlay, requests[start], now, results, start)
            start += 1
            continue
        end = start
        while end < count and int(requests[end].flags) & _LINKED:
            end += 1
        if end == count:  # the last event of the batch still says "linked"
            results[start:] = [R.LINKED_EVENT_CHAIN_OPEN] * (count - start)
            break
        _run_chain(overlay, requests[start : end + 1], now, results, start)
        start = end + 1
    return results, overlay.changes


def _run_alone(
    overlay: _Overlay, request: TransferRequest, now: datetime, results: list[R], index: int
) -> None:
    """``_run_chain`` for a chain of one, without a chain's bookkeeping."""
    result = _apply(overlay, request, now)
    if result is R.OK:
        return
    results[index] = result
    if result in TRANSIENT_RESULTS:
        overlay.changes.failures[request.transfer_id] = result


def _run_chain(
    overlay: _Overlay,
    chain: Sequence[TransferRequest],
    now: datetime,
    results: list[R],
    offset: int,
) -> None:
    """Applies one chain (a single transfer is a chain of one), writing its
    results at ``offset`` and undoing its effects if any member fails."""
    chained = len(chain) > 1
    if chained:
        overlay.begin_chain()
    failed_at: int | None = None
    for index, request in enumerate(chain):
        result = _apply(overlay, request, now)
        results[offset + index] = result
        if result not in (R.OK, R.EXISTS):
            failed_at = index
            break
    if chained:
        overlay.end_chain(commit=failed_at is None)
    if failed_at is None:
        return
    failure = results[offset + failed_at]
    for index in range(len(chain)):
        if index != failed_at:
            results[offset + index] = R.LINKED_EVENT_FAILED
    if failure in TRANSIENT_RESULTS:
        overlay.changes.failures[chain[failed_at].transfer_id] = failure


def _apply(overlay: _Overlay, request: TransferRequest, now: datetime) -> R:
    """Flags and id checks, then idempotency (a known id answers ``exists``
    or names the first field that differs), then the transfer itself."""
    flags = int(request.flags)
    if flags & ~_KNOWN:
        return R.RESERVED_FLAG
    transfer_id = request.transfer_id
    if transfer_id.int == _ZERO:
        return R.ID_MUST_NOT_BE_ZERO
    if transfer_id.int == _MAX:
        return R.ID_MUST_NOT_BE_INT_MAX
    stored = overlay.transfer(transfer_id)
    if stored is not None:
        return _compare(request, stored, overlay)
    if overlay.view.failure(transfer_id) is not None:
        return R.ID_ALREADY_FAILED
    failed = overlay.changes.failures
    if failed and transfer_id in failed:
        return R.ID_ALREADY_FAILED
    if flags & _PHASE_FLAGS:
        if (flags & _PHASE_FLAGS).bit_count() > 1:
            return R.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if flags & _RESOLVING:
            return _resolve_pending(overlay, request, now)
    return _move(overlay, request, now)


def _compare(request: TransferRequest, stored: Transfer, overlay: _Overlay) -> R:
    resolving = bool(int(request.flags) & _RESOLVING)
    if request.flags != stored.flags:
        return R.EXISTS_WITH_DIFFERENT_FLAGS
    if request.pending_id != stored.pending_id:
        return R.EXISTS_WITH_DIFFERENT_PENDING_ID
    if request.timeout != stored.timeout:
        return R.EXISTS_WITH_DIFFERENT_TIMEOUT
    checks: list[tuple[object, object, R]] = [
        (
            request.debit_account_id,
            stored.debit_account_id,
            R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID,
        ),
        (
            request.credit_account_id,
            stored.credit_account_id,
            R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID,
        ),
        (request.amount, stored.amount, R.EXISTS_WITH_DIFFERENT_AMOUNT),
        (request.user_data, stored.user_data, R.EXISTS_WITH_DIFFERENT_USER_DATA),
        (request.currency, stored.currency, R.EXISTS_WITH_DIFFERENT_CURRENCY),
        (request.code, stored.code, R.EXISTS_WITH_DIFFERENT_CODE),
    ]
    for given, kept, result in checks:
        if resolving and given in (None, "", 0):
            continue  # a post or void may leave a field to the pending transfer
        if given != kept:
            return result
    return R.EXISTS


def _static_checks(request: TransferRequest) -> R | None:
    debit, credit = request.debit_account_id, request.credit_account_id
    if debit is None or debit.int == _ZERO:
        return R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if credit is None or credit.int == _ZERO:
        return R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if debit.int == credit.int:
        return R.ACCOUNTS_MUST_BE_DIFFERENT
    if request.pending_id is not None:
        return R.PENDING_ID_MUST_BE_ZERO
    if request.timeout and not int(request.flags) & _PENDING:
        return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if not request.currency:
        return R.CURRENCY_MUST_NOT_BE_EMPTY
    if not request.code:
        return R.CODE_MUST_NOT_BE_EMPTY
    if request.amount <= 0:
        return R.AMOUNT_MUST_NOT_BE_ZERO
    return None


def _move(overlay: _Overlay, request: TransferRequest, now: datetime) -> R:
    """A single-phase or pending transfer. The account checks are written
    out here, in their order of precedence: this runs for every fare."""
    result = _static_checks(request)
    if result is not None:
        return result
    # Unpacked at once: cheaper than reading a named tuple's fields one by one.
    transfer_id, debit_id, credit_id, amount, currency, code, user_data, flags, _, timeout = request
    assert debit_id is not None  # as _static_checks made sure
    assert credit_id is not None
    view = overlay.view
    debit = view.account(debit_id)
    if debit is None:
        return R.DEBIT_ACCOUNT_NOT_FOUND
    credit = view.account(credit_id)
    if credit is None:
        return R.CREDIT_ACCOUNT_NOT_FOUND
    if debit.currency != credit.currency:
        return R.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY
    if currency != debit.currency:
        return R.TRANSFER_MUST_HAVE_THE_SAME_CURRENCY_AS_ACCOUNTS
    if int(debit.flags) & _CLOSED:
        return R.DEBIT_ACCOUNT_ALREADY_CLOSED
    if int(credit.flags) & _CLOSED:
        return R.CREDIT_ACCOUNT_ALREADY_CLOSED
    pending = int(flags) & _PENDING
    debit_balance = overlay.balance(debit_id)
    credit_balance = overlay.balance(credit_id)
    result = _check_limits(debit, credit, debit_balance, credit_balance, amount)
    if result is not None:
        return result
    if debit_balance is not None:
        overlay.set_balance(
            debit_id,
            debit_balance.add(
                debits_pending=amount if pending else 0, debits_posted=0 if pending else amount
            ),
        )
    if credit_balance is not None:
        overlay.set_balance(
            credit_id,
            credit_balance.add(
                credits_pending=amount if pending else 0, credits_posted=0 if pending else amount
            ),
        )
    overlay.add_transfer(
        Transfer(
            transfer_id,
            debit_id,
            credit_id,
            amount,
            debit.currency,
            code,
            user_data,
            flags,
            None,
            timeout,
            now,
        )
    )
    return R.OK


def _check_limits(
    debit: Account,
    credit: Account,
    debit_balance: Balance | None,
    credit_balance: Balance | None,
    amount: int,
) -> R | None:
    """Overflows, then balance limits. Balances are loaded only for limited
    accounts; without them there is no counter to overflow or limit."""
    if amount > MAX_AMOUNT:
        return R.OVERFLOWS_DEBITS
    if debit_balance is not None:
        debits = debit_balance.debits_pending + debit_balance.debits_posted + amount
        if debits > MAX_AMOUNT:
            return R.OVERFLOWS_DEBITS
    if credit_balance is not None:
        credits = credit_balance.credits_pending + credit_balance.credits_posted + amount
        if credits > MAX_AMOUNT:
            return R.OVERFLOWS_CREDITS
    if int(debit.flags) & _DEBIT_LIMIT:
        assert debit_balance is not None, "a limited account's balance must be loaded"
        if debits > debit_balance.credits_posted:
            return R.EXCEEDS_CREDITS
    if int(credit.flags) & _CREDIT_LIMIT:
        assert credit_balance is not None, "a limited account's balance must be loaded"
        if credits > credit_balance.debits_posted:
            return R.EXCEEDS_DEBITS
    return None


def _shift(overlay: _Overlay, account_id: uuid.UUID, **deltas: int) -> None:
    balance = overlay.balance(account_id)
    if balance is not None:
        overlay.set_balance(account_id, balance.add(**deltas))


def _resolve_pending(overlay: _Overlay, request: TransferRequest, now: datetime) -> R:
    result = _pending_static_checks(request)
    if result is not None:
        return result
    assert request.pending_id is not None
    pending = overlay.transfer(request.pending_id)
    if pending is None:
        return R.PENDING_TRANSFER_NOT_FOUND
    result = _pending_matches(request, pending, overlay, now)
    if result is not None:
        return result
    posting = bool(int(request.flags) & _POST)
    amount = (request.amount or pending.amount) if posting else pending.amount
    _shift(
        overlay,
        pending.debit_account_id,
        debits_pending=-pending.amount,
        debits_posted=amount if posting else 0,
    )
    _shift(
        overlay,
        pending.credit_account_id,
        credits_pending=-pending.amount,
        credits_posted=amount if posting else 0,
    )
    state = PendingState.POSTED if posting else PendingState.VOIDED
    overlay.resolve(pending.transfer_id, state, request.transfer_id)
    overlay.add_transfer(
        Transfer(
            request.transfer_id,
            pending.debit_account_id,
            pending.credit_account_id,
            amount,
            pending.currency,
            pending.code,
            request.user_data or pending.user_data,
            request.flags,
            pending.transfer_id,
            0,
            now,
        )
    )
    return R.OK


def _pending_static_checks(request: TransferRequest) -> R | None:
    if request.pending_id in (None, ZERO_ID):
        return R.PENDING_ID_MUST_NOT_BE_ZERO
    if request.pending_id == request.transfer_id:
        return R.PENDING_ID_MUST_BE_DIFFERENT
    if request.timeout:
        return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if (
        request.debit_account_id is not None
        and request.debit_account_id == request.credit_account_id
    ):
        return R.ACCOUNTS_MUST_BE_DIFFERENT
    if request.amount < 0:
        return R.AMOUNT_MUST_NOT_BE_ZERO
    return None


def _pending_matches(
    request: TransferRequest, pending: Transfer, overlay: _Overlay, now: datetime
) -> R | None:
    if not int(pending.flags) & _PENDING:
        return R.PENDING_TRANSFER_NOT_PENDING
    mismatches = [
        (
            request.debit_account_id,
            pending.debit_account_id,
            R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID,
        ),
        (
            request.credit_account_id,
            pending.credit_account_id,
            R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID,
        ),
        (request.currency, pending.currency, R.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY),
        (request.code, pending.code, R.PENDING_TRANSFER_HAS_DIFFERENT_CODE),
    ]
    for given, kept, result in mismatches:
        if given not in (None, "") and given != kept:
            return result
    posting = bool(int(request.flags) & _POST)
    if posting and request.amount > pending.amount:
        return R.EXCEEDS_PENDING_TRANSFER_AMOUNT
    if not posting and request.amount not in (0, pending.amount):
        return R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
    state = overlay.pending_state(pending.transfer_id)
    if state is PendingState.POSTED:
        return R.PENDING_TRANSFER_ALREADY_POSTED
    if state is PendingState.VOIDED:
        return R.PENDING_TRANSFER_ALREADY_VOIDED
    expires_at = pending.expires_at
    if state is PendingState.EXPIRED or (expires_at is not None and now >= expires_at):
        return R.PENDING_TRANSFER_EXPIRED
    return None
