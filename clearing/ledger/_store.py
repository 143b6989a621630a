"""The ledger contract on SQLAlchemy: load what a batch needs in a handful of
set-based queries, decide with the pure engine, write the changes.

Balances are not counters that every transfer must update (that would be
a hot row for every operator's revenue account). They are derived from the
transfers: on SQLite from totals folded in off the tap path plus the short
tail of transfers since (_totals.py). Only accounts with balance limits
need them while deciding, and on PostgreSQL those accounts' rows are
locked first, so two concurrent debits of one stored-value account cannot
both pass its limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, or_, select, text
from sqlalchemy.orm import Session

from clearing.ledger._accounts import AccountRef, account_id_for
from clearing.ledger._cache import account_cache, stage
from clearing.ledger._contract import (
    Account,
    AccountFlags,
    AccountResult,
    Balance,
    PendingState,
    Transfer,
    TransferFlags,
    TransferRequest,
    TransferResult,
)
from clearing.ledger._driver import (
    id_keys,
    insert_transfers,
    select_accounts,
    select_failures,
    select_transfers,
)
from clearing.ledger._engine import LedgerChanges, plan_transfers
from clearing.ledger._horizon import after_horizon
from clearing.ledger._totals import PENDING_TERM, posted_totals
from clearing.storage._bulk import insert_missing
from clearing.storage.models import (
    LedgerAccountRow,
    LedgerFailureRow,
    LedgerTransferRow,
    PendingResolutionRow,
)
from clearing.values import Currency

_LIMITS = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
_LIMITED = int(_LIMITS)
_NOT_POSTED = int(TransferFlags.PENDING | TransferFlags.VOID_PENDING)
_CHUNK = 500  # bound on IN (...) lists, well under every driver's parameter limit


def _chunks(items: Sequence[uuid.UUID]) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def posted_only() -> ColumnElement[bool]:
    """SQL condition: the transfer moves posted money (not pending, not void)."""
    return LedgerTransferRow.flags.op("&")(_NOT_POSTED) == 0


def load_transfers(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Transfer]:
    """Stored transfers among ``ids``."""
    connection = session.connection()
    return {t.transfer_id: t for t in select_transfers(connection, id_keys(connection, ids))}


def load_accounts(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Account]:
    """Accounts among ``ids``: committed ones from the account cache, the
    rest from the database (staged for the cache if this transaction commits)."""
    found = _accounts_by_number(session, {i.int for i in ids})
    return {account.account_id: account for account in found.values()}


def _accounts_by_number(session: Session, numbers: Iterable[int]) -> dict[int, Account]:
    """``load_accounts`` keyed by the integers of the ids, as the account
    cache is."""
    found, missing = account_cache(session).lookup(numbers)
    if missing:
        read = select_accounts(session.connection(), [uuid.UUID(int=n) for n in missing])
        stage(session, read)
        found.update((a.account_id.int, a) for a in read)
    return found


def _load_states(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PendingState]:
    found: dict[uuid.UUID, PendingState] = {}
    for chunk in _chunks(ids):
        query = select(PendingResolutionRow.pending_id, PendingResolutionRow.state).where(
            PendingResolutionRow.pending_id.in_(chunk)
        )
        found.update((key, PendingState(state)) for key, state in session.execute(query))
    return found


class DatabaseView:
    """What one batch may read, loaded up front in set-based queries."""

    def __init__(
        self, session: Session, requests: Sequence[TransferRequest], now: datetime
    ) -> None:
        connection = session.connection()
        own_ids = {r.transfer_id for r in requests}
        pending_ids = {r.pending_id for r in requests if r.pending_id is not None}
        own_keys = id_keys(connection, list(own_ids))  # converted once, for two tables
        wanted = own_keys
        if pending_ids - own_ids:
            wanted = [*own_keys, *id_keys(connection, list(pending_ids - own_ids))]
        stored = select_transfers(connection, wanted)
        self._transfers = {t.transfer_id: t for t in stored}
        failures = select_failures(connection, own_keys)
        self._failures = {key: TransferResult(result) for key, result in failures}
        # Accounts by the integers of their ids: see AccountCache.
        named = {r.debit_account_id.int for r in requests if r.debit_account_id is not None}
        named.update(r.credit_account_id.int for r in requests if r.credit_account_id is not None)
        for transfer in stored:
            named.update((transfer.debit_account_id.int, transfer.credit_account_id.int))
        self._accounts = _accounts_by_number(session, named)
        self._states = _load_states(session, list(pending_ids)) if pending_ids else {}
        limited = sorted(a.account_id for a in self._accounts.values() if int(a.flags) & _LIMITED)
        self._balances = balances(session, limited, now, lock=True) if limited else {}

    # Each answers at once from an empty table: hashing a UUID runs Python
    # code, and most batches find no stored transfer, failure or limit.

    def account(self, account_id: uuid.UUID) -> Account | None:
        return self._accounts.get(account_id.int)

    def balance(self, account_id: uuid.UUID) -> Balance | None:
        return self._balances.get(account_id) if self._balances else None

    def transfer(self, transfer_id: uuid.UUID) -> Transfer | None:
        return self._transfers.get(transfer_id) if self._transfers else None

    def failure(self, transfer_id: uuid.UUID) -> TransferResult | None:
        return self._failures.get(transfer_id) if self._failures else None

    def pending_state(self, pending_id: uuid.UUID) -> PendingState | None:
        return self._states.get(pending_id) if self._states else None


def balances(
    session: Session, account_ids: Sequence[uuid.UUID], now: datetime, *, lock: bool = False
) -> dict[uuid.UUID, Balance]:
    """The four counters of each account, derived from its transfers: on
    SQLite the posted ones from its folded totals and the transfers since
    (see _totals.py).

    With ``lock`` on PostgreSQL the account rows are locked for the rest of
    the transaction (SQLite transactions are serialized already).
    """
    result: dict[uuid.UUID, Balance] = {a: Balance() for a in account_ids}
    sqlite = session.get_bind().dialect.name == "sqlite"
    for chunk in _chunks(account_ids):
        if sqlite:
            _add_folded(session, chunk, result)
        else:
            if lock:
                session.execute(
                    select(LedgerAccountRow.account_id)
                    .where(LedgerAccountRow.account_id.in_(chunk))
                    .with_for_update()
                )
            for side in ("debit", "credit"):
                _add_posted(session, chunk, side, result)
        for side in ("debit", "credit"):
            _add_pending(session, chunk, side, now, result)
    return result


def _add_folded(
    session: Session, chunk: Sequence[uuid.UUID], into: dict[uuid.UUID, Balance]
) -> None:
    for account_id, (debits, credits) in posted_totals(session, chunk).items():
        into[account_id] = into[account_id].add(debits_posted=debits, credits_posted=credits)


def _add_posted(
    session: Session, chunk: Sequence[uuid.UUID], side: str, into: dict[uuid.UUID, Balance]
) -> None:
    column = getattr(LedgerTransferRow, f"{side}_account_id")
    query = (
        select(column, func.sum(LedgerTransferRow.amount))
        .where(column.in_(chunk), posted_only())
        .group_by(column)
    )
    for account_id, total in session.execute(query):
        into[account_id] = into[account_id].add(**{f"{side}s_posted": int(total)})


def _add_pending(
    session: Session,
    chunk: Sequence[uuid.UUID],
    side: str,
    now: datetime,
    into: dict[uuid.UUID, Balance],
) -> None:
    column = getattr(LedgerTransferRow, f"{side}_account_id")
    resolved = select(PendingResolutionRow.pending_id).where(
        PendingResolutionRow.pending_id == LedgerTransferRow.transfer_id
    )
    query = (
        select(column, func.sum(LedgerTransferRow.amount))
        .where(
            column.in_(chunk),
            text(PENDING_TERM),
            ~resolved.exists(),
            or_(LedgerTransferRow.expires_at.is_(None), LedgerTransferRow.expires_at > now),
        )
        .group_by(column)
    )
    for account_id, total in session.execute(query):
        into[account_id] = into[account_id].add(**{f"{side}s_pending": int(total)})


def create_transfers(
    session: Session, requests: Sequence[TransferRequest], now: datetime
) -> list[TransferResult]:
    """Creates transfers under the ledger contract, in the caller's transaction.

    Answers one result per request, in order. Only OK results wrote anything,
    plus the ids that failed for a reason of state (they stay failed). The
    transfers are created at ``now``, or just after the ledger's horizon if
    ``now`` is not past it (see _horizon.py).
    """
    if not requests:
        return []
    now = after_horizon(session, now)
    results, changes = plan_transfers(DatabaseView(session, requests, now), requests, now)
    _write(session, changes, now)
    return results


def _write(session: Session, changes: LedgerChanges, now: datetime) -> None:
    if changes.transfers:
        _insert_transfers(session, changes.transfers)
    if changes.resolutions:
        session.execute(
            insert(PendingResolutionRow),
            [
                {"pending_id": p, "state": state.value, "resolved_by": by, "resolved_at": now}
                for p, (state, by) in changes.resolutions.items()
            ],
        )
    if changes.failures:
        session.execute(
            insert(LedgerFailureRow),
            [
                {"transfer_id": t, "result": result.value, "failed_at": now}
                for t, result in changes.failures.items()
            ],
        )


def _insert_transfers(
    session: Session, transfers: Sequence[Transfer], table: str = "ledger_transfers"
) -> None:
    """The hottest write of the tap path, at driver level."""
    insert_transfers(session.connection(), transfers, table)


def create_accounts(
    session: Session, accounts: Sequence[Account], now: datetime
) -> list[AccountResult]:
    """Creates accounts; an existing id answers ``exists`` or names the field
    that differs."""
    stored = load_accounts(session, sorted({a.account_id for a in accounts}))
    results: list[AccountResult] = []
    fresh: list[Account] = []
    for account in accounts:
        result = _account_result(account, stored.get(account.account_id))
        results.append(result)
        if result is AccountResult.OK:
            stored[account.account_id] = account
            fresh.append(account)
    if fresh:
        session.execute(insert(LedgerAccountRow), [_account_row(a, now) for a in fresh])
        stage(session, fresh)
    return results


def _account_result(account: Account, stored: Account | None) -> AccountResult:
    if account.account_id.int in (0, 2**128 - 1):
        return (
            AccountResult.ID_MUST_NOT_BE_ZERO
            if account.account_id.int == 0
            else AccountResult.ID_MUST_NOT_BE_INT_MAX
        )
    if not account.currency:
        return AccountResult.CURRENCY_MUST_NOT_BE_EMPTY
    if not account.code:
        return AccountResult.CODE_MUST_NOT_BE_EMPTY
    if account.flags & _LIMITS == _LIMITS:
        return AccountResult.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if stored is None:
        return AccountResult.OK
    differences = [
        (account.flags, stored.flags, AccountResult.EXISTS_WITH_DIFFERENT_FLAGS),
        (
            account.participant_id,
            stored.participant_id,
            AccountResult.EXISTS_WITH_DIFFERENT_PARTICIPANT,
        ),
        (account.currency, stored.currency, AccountResult.EXISTS_WITH_DIFFERENT_CURRENCY),
        (account.code, stored.code, AccountResult.EXISTS_WITH_DIFFERENT_CODE),
        (
            account.medium_token,
            stored.medium_token,
            AccountResult.EXISTS_WITH_DIFFERENT_MEDIUM_TOKEN,
        ),
    ]
    for given, kept, result in differences:
        if given != kept:
            return result
    return AccountResult.EXISTS


def _account_row(account: Account, now: datetime) -> dict[str, object]:
    return {
        "account_id": account.account_id,
        "participant_id": account.participant_id,
        "currency": account.currency,
        "code": account.code,
        "medium_token": account.medium_token,
        "flags": int(account.flags),
        "created_at": now,
    }


def ensure_accounts(session: Session, refs: Iterable[AccountRef], now: datetime) -> None:
    """Creates the derived-id accounts that do not exist yet. Their content is
    a pure function of their id, so an existing row is the same account, and
    one the account cache holds is known to exist."""
    cache = account_cache(session)
    wanted = {account_id_for(r): r for r in set(refs)}
    # Sorted (a fixed order of inserts) after the cache has answered: most
    # accounts are known, and UUIDs compare in Python code.
    missing = sorted((a, r) for a, r in wanted.items() if a not in cache)
    unknown = [
        Account(a, r.participant_id, r.currency, r.code.value, medium_token=r.medium_token)
        for a, r in missing
    ]
    insert_missing(session, LedgerAccountRow, [_account_row(a, now) for a in unknown])
    stage(session, unknown)


def lookup_accounts(
    session: Session, account_ids: Sequence[uuid.UUID], now: datetime
) -> list[tuple[Account, Balance]]:
    """Accounts with their counters, as TigerBeetle's lookup_accounts answers."""
    found = load_accounts(session, list(account_ids))
    counters = balances(session, sorted(found), now)
    return [(found[a], counters[a]) for a in account_ids if a in found]


def trial_balance(session: Session) -> dict[Currency, tuple[int, int]]:
    """(posted debits, posted credits) per currency, summed over accounts.

    Computed from the accounts' side, not the transfers', so a transfer row
    whose accounts disagree with its currency shows up as an imbalance.
    """
    totals: dict[Currency, tuple[int, int]] = {}
    for side, position in (("debit", 0), ("credit", 1)):
        column = getattr(LedgerTransferRow, f"{side}_account_id")
        query = (
            select(LedgerAccountRow.currency, func.sum(LedgerTransferRow.amount))
            .join(LedgerAccountRow, LedgerAccountRow.account_id == column)
            .where(posted_only())
            .group_by(LedgerAccountRow.currency)
        )
        for currency, amount in session.execute(query):
            pair = list(totals.get(currency, (0, 0)))
            pair[position] = int(amount)
            totals[currency] = (pair[0], pair[1])
    return totals
