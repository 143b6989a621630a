"""Deterministic simulation of the ledger contract, in TigerBeetle's manner.

Random histories of account openings, single-phase and pending transfers,
posts, voids, linked chains, retries (faithful and altered), a clock that
moves so that holds expire, and process restarts. Every batch goes through
the real store and through ``Model``, an independent re-telling of the
documented contract; their answers must agree, and the ledger's invariants
must hold after every step.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

import clearing.ledger._log
from clearing.ledger import (
    TRANSIENT_RESULTS,
    Account,
    AccountFlags,
    AccountResult,
    Balance,
    LedgerLog,
    PendingState,
    Transfer,
    TransferFlags,
    TransferRequest,
    create_accounts,
    create_transfers,
    ledger_origin,
    logged_transfer,
    lookup_accounts,
    trial_balance,
)
from clearing.ledger import TransferResult as R
from clearing.storage.models import LedgerLogRow, LedgerTransferRow
from farebridge.codecs.merkle import leaf_hash, root_hash
from farebridge.codecs.transfers import transfer_leaf_bytes

CURRENCIES = ("SGD", "KRW")
CODES = ("fare", "top_up")
LINKED = TransferFlags.LINKED
PENDING = TransferFlags.PENDING
POST = TransferFlags.POST_PENDING
VOID = TransferFlags.VOID_PENDING
RESOLVING = POST | VOID
DEBIT_LIMIT = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CREDIT_LIMIT = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
OWNER = "clearing-house"
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(32))


# ------------------------------------------------------------------ the model


class Model:
    """The contract as documented, told plainly: every transfer kept in a
    dict, balances recounted from scratch, a linked chain undone by restoring
    a copy of the state taken before it."""

    def __init__(self) -> None:
        self.accounts: dict[uuid.UUID, Account] = {}
        self.transfers: dict[uuid.UUID, Transfer] = {}
        self.failed: dict[uuid.UUID, R] = {}
        self.resolved: dict[uuid.UUID, PendingState] = {}

    def balance(self, account_id: uuid.UUID, now: datetime) -> Balance:
        balance = Balance()
        for t in self.transfers.values():
            for side, account in (("debits", t.debit_account_id), ("credits", t.credit_account_id)):
                if account != account_id or t.flags & VOID:
                    continue
                if not t.flags & PENDING:
                    balance = balance.add(**{f"{side}_posted": t.amount})
                elif t.transfer_id not in self.resolved and not self.expired(t, now):
                    balance = balance.add(**{f"{side}_pending": t.amount})
        return balance

    @staticmethod
    def expired(pending: Transfer, now: datetime) -> bool:
        return pending.timeout > 0 and now >= pending.timestamp + timedelta(seconds=pending.timeout)

    def create_transfers(self, requests: list[TransferRequest], now: datetime) -> list[R]:
        results: list[R] = []
        chain: list[TransferRequest] = []
        for index, request in enumerate(requests):
            chain.append(request)
            if request.flags & LINKED and index == len(requests) - 1:
                return results + [R.LINKED_EVENT_CHAIN_OPEN] * len(chain)
            if not request.flags & LINKED:
                results += self._chain(chain, now)
                chain = []
        return results

    def _chain(self, chain: list[TransferRequest], now: datetime) -> list[R]:
        saved = (dict(self.transfers), dict(self.failed), dict(self.resolved))
        answers: list[R] = []
        for position, request in enumerate(chain):
            result = self._decide(request, now)
            answers.append(result)
            if result not in (R.OK, R.EXISTS):
                self.transfers, self.failed, self.resolved = saved
                if result in TRANSIENT_RESULTS:
                    self.failed[request.transfer_id] = result
                answers = [R.LINKED_EVENT_FAILED] * len(chain)
                answers[position] = result
                return answers
        return answers

    def _decide(self, r: TransferRequest, now: datetime) -> R:
        if r.transfer_id.int == 0:
            return R.ID_MUST_NOT_BE_ZERO
        if r.transfer_id in self.transfers:
            return self._compare(r, self.transfers[r.transfer_id])
        if r.transfer_id in self.failed:
            return R.ID_ALREADY_FAILED
        if bin(int(r.flags & (PENDING | POST | VOID))).count("1") > 1:
            return R.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if r.flags & RESOLVING:
            return self._resolve(r, now)
        return self._move(r, now)

    @staticmethod
    def _compare(r: TransferRequest, t: Transfer) -> R:
        resolving = bool(r.flags & RESOLVING)
        if r.flags != t.flags:
            return R.EXISTS_WITH_DIFFERENT_FLAGS
        if r.pending_id != t.pending_id:
            return R.EXISTS_WITH_DIFFERENT_PENDING_ID
        if r.timeout != t.timeout:
            return R.EXISTS_WITH_DIFFERENT_TIMEOUT
        optional = [
            (r.debit_account_id, t.debit_account_id, R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID),
            (r.credit_account_id, t.credit_account_id, R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID),
            (r.amount, t.amount, R.EXISTS_WITH_DIFFERENT_AMOUNT),
            (r.user_data, t.user_data, R.EXISTS_WITH_DIFFERENT_USER_DATA),
            (r.currency, t.currency, R.EXISTS_WITH_DIFFERENT_CURRENCY),
            (r.code, t.code, R.EXISTS_WITH_DIFFERENT_CODE),
        ]
        for given, kept, answer in optional:
            # A post or void may leave a field empty: it is the pending transfer's.
            if not (resolving and given in (None, "", 0)) and given != kept:
                return answer
        return R.EXISTS

    def _move(self, r: TransferRequest, now: datetime) -> R:
        if r.debit_account_id is None:
            return R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if r.credit_account_id is None:
            return R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if r.debit_account_id == r.credit_account_id:
            return R.ACCOUNTS_MUST_BE_DIFFERENT
        if r.pending_id is not None:
            return R.PENDING_ID_MUST_BE_ZERO
        if r.timeout and not r.flags & PENDING:
            return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        if not r.currency:
            return R.CURRENCY_MUST_NOT_BE_EMPTY
        if not r.code:
            return R.CODE_MUST_NOT_BE_EMPTY
        if r.amount <= 0:
            return R.AMOUNT_MUST_NOT_BE_ZERO
        debit = self.accounts.get(r.debit_account_id)
        credit = self.accounts.get(r.credit_account_id)
        if debit is None:
            return R.DEBIT_ACCOUNT_NOT_FOUND
        if credit is None:
            return R.CREDIT_ACCOUNT_NOT_FOUND
        if debit.currency != credit.currency:
            return R.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY
        if r.currency != debit.currency:
            return R.TRANSFER_MUST_HAVE_THE_SAME_CURRENCY_AS_ACCOUNTS
        if debit.flags & AccountFlags.CLOSED:
            return R.DEBIT_ACCOUNT_ALREADY_CLOSED
        if credit.flags & AccountFlags.CLOSED:
            return R.CREDIT_ACCOUNT_ALREADY_CLOSED
        d = self.balance(debit.account_id, now)
        c = self.balance(credit.account_id, now)
        if debit.flags & DEBIT_LIMIT and d.debits_pending + d.debits_posted + r.amount > (
            d.credits_posted
        ):
            return R.EXCEEDS_CREDITS
        if credit.flags & CREDIT_LIMIT and c.credits_pending + c.credits_posted + r.amount > (
            c.debits_posted
        ):
            return R.EXCEEDS_DEBITS
        self.transfers[r.transfer_id] = Transfer(
            r.transfer_id,
            debit.account_id,
            credit.account_id,
            r.amount,
            debit.currency,
            r.code,
            r.user_data,
            r.flags,
            None,
            r.timeout,
            now,
        )
        return R.OK

    def _resolve(self, r: TransferRequest, now: datetime) -> R:
        if r.debit_account_id is not None and r.debit_account_id == r.credit_account_id:
            return R.ACCOUNTS_MUST_BE_DIFFERENT
        if r.pending_id is None:
            return R.PENDING_ID_MUST_NOT_BE_ZERO
        if r.pending_id == r.transfer_id:
            return R.PENDING_ID_MUST_BE_DIFFERENT
        if r.timeout:
            return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        p = self.transfers.get(r.pending_id)
        if p is None:
            return R.PENDING_TRANSFER_NOT_FOUND
        if not p.flags & PENDING:
            return R.PENDING_TRANSFER_NOT_PENDING
        if r.debit_account_id is not None and r.debit_account_id != p.debit_account_id:
            return R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
        if r.credit_account_id is not None and r.credit_account_id != p.credit_account_id:
            return R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
        if r.currency and r.currency != p.currency:
            return R.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY
        if r.code and r.code != p.code:
            return R.PENDING_TRANSFER_HAS_DIFFERENT_CODE
        posting = bool(r.flags & POST)
        if posting and r.amount > p.amount:
            return R.EXCEEDS_PENDING_TRANSFER_AMOUNT
        if not posting and r.amount not in (0, p.amount):
            return R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
        state = self.resolved.get(p.transfer_id)
        if state is PendingState.POSTED:
            return R.PENDING_TRANSFER_ALREADY_POSTED
        if state is PendingState.VOIDED:
            return R.PENDING_TRANSFER_ALREADY_VOIDED
        if self.expired(p, now):
            return R.PENDING_TRANSFER_EXPIRED
        self.resolved[p.transfer_id] = PendingState.POSTED if posting else PendingState.VOIDED
        self.transfers[r.transfer_id] = Transfer(
            r.transfer_id,
            p.debit_account_id,
            p.credit_account_id,
            (r.amount or p.amount) if posting else p.amount,
            p.currency,
            p.code,
            r.user_data or p.user_data,
            r.flags,
            p.transfer_id,
            0,
            now,
        )
        return R.OK


# ------------------------------------------------------------------ the machine

amounts = st.integers(min_value=1, max_value=400)
user_data = st.sampled_from(["", "tap-1", "tap-2"])
timeouts = st.sampled_from([0, 0, 30, 60, 300])
# A retry is mostly faithful (None); otherwise one field is changed.
RETRY_CHANGES = (None, None, None, "flags", "pending_id", "timeout", "debit_account_id")
RETRY_CHANGES += ("credit_account_id", "amount", "user_data", "currency", "code")


class LedgerMachine(RuleBasedStateMachine):
    """One history. ``LEDGER`` is the store under test, shared by all
    histories of one test; each history names its ids in a namespace of its
    own, so histories never see each other's accounts or transfers."""

    LEDGER = None  # set by the test that runs the machine

    def __init__(self) -> None:
        super().__init__()
        self.ledger = type(self).LEDGER
        self.namespace = uuid.uuid4()
        self.model = Model()
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        self.serial = 0
        self.pendings: list[uuid.UUID] = []
        self.history: list[tuple[TransferRequest, R]] = []

    # -- helpers

    def fresh(self, kind: str) -> uuid.UUID:
        self.serial += 1
        return uuid.uuid5(self.namespace, f"{kind}-{self.serial}")

    def submit(self, requests: list[TransferRequest]) -> list[R]:
        expected = self.model.create_transfers(requests, self.now)
        with self.ledger.database.transaction() as session:
            actual = create_transfers(session, requests, self.now)
        assert actual == expected, list(zip(requests, actual, expected, strict=True))
        self.history += zip(requests, actual, strict=True)
        self.pendings += [
            r.transfer_id
            for r, result in zip(requests, actual, strict=True)
            if result is R.OK and r.flags & PENDING
        ]
        return actual

    def accounts_in(self, currency: str) -> list[uuid.UUID]:
        return [a.account_id for a in self.model.accounts.values() if a.currency == currency]

    def draw_account(
        self, data: st.DataObject, currency: str, other_than: uuid.UUID | None = None
    ) -> uuid.UUID:
        choices = self.accounts_in(currency)
        if data.draw(st.integers(0, 19)) > 0:
            choices = [a for a in choices if a != other_than]
        if data.draw(st.integers(0, 19)) == 0:
            return self.fresh("missing-account")
        if data.draw(st.integers(0, 19)) == 0:
            choices = list(self.model.accounts)  # perhaps the other currency
        return data.draw(st.sampled_from(choices))

    def draw_move(self, data: st.DataObject, *, pending: bool) -> TransferRequest:
        currency = data.draw(st.sampled_from(CURRENCIES))
        debit = self.draw_account(data, currency)
        credit = self.draw_account(data, currency, other_than=debit)
        if data.draw(st.integers(0, 29)) == 0:
            currency = data.draw(st.sampled_from(CURRENCIES))
        return TransferRequest(
            self.fresh("transfer"),
            debit,
            credit,
            data.draw(amounts),
            currency,
            data.draw(st.sampled_from(CODES)),
            data.draw(user_data),
            PENDING if pending else TransferFlags.NONE,
            None,
            data.draw(timeouts) if pending else 0,
        )

    def draw_resolution(self, data: st.DataObject, flag: TransferFlags) -> TransferRequest:
        unknown = not self.pendings or data.draw(st.integers(0, 19)) == 0
        pending_id = (
            self.fresh("missing-hold") if unknown else data.draw(st.sampled_from(self.pendings))
        )
        held = self.model.transfers.get(pending_id)
        amount = 0
        if flag is POST and held is not None:
            amount = data.draw(st.sampled_from([0, held.amount, max(1, held.amount // 2)]))
            amount = data.draw(st.sampled_from([amount, amount, held.amount + 1]))
        request = TransferRequest(
            self.fresh("transfer"),
            None,
            None,
            amount,
            None,
            "",
            data.draw(user_data),
            flag,
            pending_id,
        )
        if held is not None and data.draw(st.booleans()):
            # Some clients repeat the pending transfer's fields; they must match.
            request = request._replace(
                debit_account_id=held.debit_account_id,
                credit_account_id=held.credit_account_id,
                currency=held.currency,
                code=data.draw(st.sampled_from([held.code, held.code, "other"])),
            )
        return request

    def draw_any(self, data: st.DataObject) -> TransferRequest:
        kind = data.draw(st.sampled_from(["single", "pending", "post", "void", "retry"]))
        if kind == "retry" and self.history:
            return self.draw_retry(data)
        if kind in ("post", "void"):
            return self.draw_resolution(data, POST if kind == "post" else VOID)
        return self.draw_move(data, pending=kind == "pending")

    def draw_retry(self, data: st.DataObject) -> TransferRequest:
        request, _ = data.draw(st.sampled_from(self.history))
        request = request._replace(flags=request.flags & ~LINKED)
        field = data.draw(st.sampled_from(RETRY_CHANGES))
        other_account = data.draw(st.sampled_from(list(self.model.accounts)))
        changes = {
            None: {},
            "flags": {
                "flags": request.flags ^ (PENDING if not request.flags & VOID else RESOLVING)
            },
            "pending_id": {"pending_id": self.fresh("other-hold")},
            "timeout": {"timeout": request.timeout + 30},
            "debit_account_id": {"debit_account_id": other_account},
            "credit_account_id": {"credit_account_id": other_account},
            "amount": {"amount": request.amount + 1},
            "user_data": {"user_data": request.user_data + "x"},
            "currency": {"currency": "KRW" if request.currency == "SGD" else "SGD"},
            "code": {"code": request.code + "x"},
        }
        return request._replace(**changes[field])

    # -- rules

    @initialize()
    def open_a_small_city(self) -> None:
        """Per currency: a bank, a fare revenue account, a rider's stored value
        (no overdraft) and a payable that may not be overpaid."""
        for currency in CURRENCIES:
            for flags in (AccountFlags.NONE, AccountFlags.NONE, DEBIT_LIMIT, CREDIT_LIMIT):
                self.open(flags, currency)

    def open(self, flags: AccountFlags, currency: str) -> None:
        account = Account(self.fresh("account"), OWNER, currency, "funds", flags)
        with self.ledger.database.transaction() as session:
            assert create_accounts(session, [account], self.now) == [AccountResult.OK]
        self.model.accounts[account.account_id] = account

    @rule(
        flags=st.sampled_from(
            [AccountFlags.NONE, DEBIT_LIMIT, DEBIT_LIMIT, CREDIT_LIMIT, AccountFlags.CLOSED]
        ),
        currency=st.sampled_from(CURRENCIES),
    )
    def open_account(self, flags: AccountFlags, currency: str) -> None:
        self.open(flags, currency)

    @rule(data=st.data())
    def single_phase(self, data: st.DataObject) -> None:
        self.submit([self.draw_move(data, pending=False)])

    @rule(data=st.data())
    def hold(self, data: st.DataObject) -> None:
        self.submit([self.draw_move(data, pending=True)])

    @rule(data=st.data())
    def post(self, data: st.DataObject) -> None:
        self.submit([self.draw_resolution(data, POST)])

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        self.submit([self.draw_resolution(data, VOID)])

    @rule(data=st.data(), size=st.integers(2, 4), left_open=st.integers(0, 9))
    def linked_chain(self, data: st.DataObject, size: int, left_open: int) -> None:
        chain = [self.draw_any(data) for _ in range(size)]
        chain = [r._replace(flags=r.flags | LINKED) for r in chain[:-1]] + chain[-1:]
        if left_open == 0:  # now and then a client forgets to close the chain
            chain[-1] = chain[-1]._replace(flags=chain[-1].flags | LINKED)
        self.submit(chain)

    @rule(data=st.data(), size=st.integers(2, 4))
    def batch(self, data: st.DataObject, size: int) -> None:
        self.submit([self.draw_any(data) for _ in range(size)])

    @precondition(lambda self: self.history)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        self.submit([self.draw_retry(data)])

    @rule(seconds=st.sampled_from([1, 29, 30, 59, 60, 61, 300, 3600]))
    def advance_clock(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def restart(self) -> None:
        self.ledger.restart()

    @rule()
    def checkpoint(self) -> None:
        """A log opened afresh (as after a restart) signs a tree head over
        every transfer committed so far, whatever order the histories made
        them in: each once, in contiguous leaves whose hashes are the
        transfers' canonical bytes."""
        log = LedgerLog(self.ledger.database, ledger_origin(OWNER), LOG_KEY)
        signed = log.checkpoint(self.now)
        with self.ledger.database.transaction() as session:
            leaves = session.execute(
                select(LedgerLogRow.leaf_index, LedgerLogRow.leaf_hash, LedgerTransferRow)
                .join(LedgerTransferRow, LedgerTransferRow.transfer_id == LedgerLogRow.transfer_id)
                .order_by(LedgerLogRow.leaf_index)
            ).all()
            stored = session.scalar(select(func.count()).select_from(LedgerTransferRow))
        assert signed.tree_size == stored == len(leaves)
        assert [index for index, _, _ in leaves] == list(range(len(leaves)))
        hashes = [bytes(digest) for _, digest, _ in leaves]
        assert hashes == [leaf_hash(transfer_leaf_bytes(logged_transfer(t))) for _, _, t in leaves]
        assert signed.root_hash == root_hash(hashes)

    # -- invariants

    def balances(self) -> dict[uuid.UUID, tuple[Account, Balance]]:
        with self.ledger.database.transaction() as session:
            found = lookup_accounts(session, list(self.model.accounts), self.now)
        return {account.account_id: (account, balance) for account, balance in found}

    @invariant()
    def balances_are_the_models_and_balance_per_currency(self) -> None:
        found = self.balances()
        assert set(found) == set(self.model.accounts)
        totals: Counter[tuple[str, str]] = Counter()
        for account_id, (account, balance) in found.items():
            assert account == self.model.accounts[account_id]
            assert balance == self.model.balance(account_id, self.now), account
            totals[account.currency, "debits"] += balance.debits_posted
            totals[account.currency, "credits"] += balance.credits_posted
        for currency in CURRENCIES:
            assert totals[currency, "debits"] == totals[currency, "credits"]
        with self.ledger.database.transaction() as session:
            assert all(debits == credits for debits, credits in trial_balance(session).values())

    @invariant()
    def balance_limits_hold(self) -> None:
        for account, b in self.balances().values():
            if account.flags & DEBIT_LIMIT:
                assert b.debits_posted + b.debits_pending <= b.credits_posted, account
            if account.flags & CREDIT_LIMIT:
                assert b.credits_posted + b.credits_pending <= b.debits_posted, account

    @invariant()
    def a_faithful_retry_answers_exists_and_changes_nothing(self) -> None:
        settled = [
            (r, result)
            for r, result in self.history
            if not r.flags & LINKED and (result in (R.OK, R.EXISTS) or result in TRANSIENT_RESULTS)
        ]
        if not settled:
            return
        request, first = settled[-1]
        before = self.balances()
        expected = R.ID_ALREADY_FAILED if first in TRANSIENT_RESULTS else R.EXISTS
        assert self.submit([request]) == [expected]
        assert self.balances() == before

    @invariant()
    def each_hold_resolves_at_most_once(self) -> None:
        if not self.pendings:
            return
        with self.ledger.database.transaction() as session:
            counts = dict(
                session.execute(
                    select(LedgerTransferRow.pending_id, func.count())
                    .where(LedgerTransferRow.pending_id.in_(self.pendings))
                    .group_by(LedgerTransferRow.pending_id)
                ).all()
            )
        assert all(count == 1 for count in counts.values()), counts
        assert set(counts) == set(self.model.resolved)


def run_machine(ledger, *, max_examples: int, steps: int) -> None:
    machine = type("Ledger", (LedgerMachine,), {"LEDGER": ledger})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


def test_the_store_agrees_with_the_model_on_sqlite(sqlite_url, open_ledger, monkeypatch):
    monkeypatch.setattr(clearing.ledger._log, "_SEQUENCE_CHUNK", 4)  # many chunks per checkpoint
    run_machine(open_ledger(sqlite_url), max_examples=settings().max_examples, steps=30)


@pytest.mark.postgres
def test_the_store_agrees_with_the_model_on_postgres(postgres_url, open_ledger, monkeypatch):
    monkeypatch.setattr(clearing.ledger._log, "_SEQUENCE_CHUNK", 4)
    run_machine(open_ledger(postgres_url), max_examples=5, steps=20)
