"""A rider's balance and journeys on SQLite come from two places: what the
upkeep already moved off the tap path (taps in sorted runs, transfers in
folded totals; clearing/storage/_runs.py, clearing/ledger/_totals.py) and
the tail of rows stored since. Both must count, each row once; PostgreSQL
answers from its plain indexes, and must agree.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Integer, literal_column, select

import clearing.ledger._totals as totals
from clearing.fares import set_flat_fare
from clearing.ingest import Ingestor, TapStatus
from clearing.ledger import (
    AccountCode,
    AccountRef,
    TransferFlags,
    account_id_for,
    balances,
    fold_totals,
)
from clearing.registry import register_device, register_participant
from clearing.storage import _runs as runs
from clearing.storage._runs import TAPS_BY_MEDIUM, Upkeep
from clearing.storage.models import LedgerTransferRow, TapRow
from clearing.values import Device, Mode, Money, Participant, Role
from clearing.wallets import TopUp, account_balances, journeys, open_account, provision_card, top_up
from farebridge.codecs import generate_device_key, public_key_bytes, seal_batch
from farebridge.v1 import tap_pb2
from farebridge.v1.common_pb2 import TAP_DIRECTION_ON
from tests.ledger.conftest import Ledger

ISSUER = Participant("tapwallet", "TapWallet", Role.ISSUER, "SGD")
OPERATOR = Participant("metro", "Metro", Role.OPERATOR, "SGD")
FARE = 190
NOT_POSTED = TransferFlags.PENDING | TransferFlags.VOID_PENDING


def _funds(token: str) -> uuid.UUID:
    return account_id_for(AccountRef(ISSUER.participant_id, AccountCode.RIDER_FUNDS, "SGD", token))


def test_balances_and_journeys_count_upkept_rows_and_the_tail_alike(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "RUN_ROWS", 4)
    monkeypatch.setattr(runs, "FANOUT", 2)
    monkeypatch.setattr(runs, "SLICE_ENTRIES", 3)
    monkeypatch.setattr(totals, "FOLD_AFTER", 3)
    monkeypatch.setattr(totals, "FOLD_ROWS", 5)
    database, now = ledger.database, ledger.now
    reader_key = generate_device_key()
    with database.transaction() as session:
        register_participant(session, ISSUER, now)
        register_participant(session, OPERATOR, now)
        gate = Device("gate-1", "metro", public_key_bytes(reader_key), "central", Mode.METRO)
        register_device(session, gate, now)
        set_flat_fare(session, "metro", Mode.METRO, Money(FARE, "SGD"), now)
        ana = open_account(session, "tapwallet", "ana", "adult", "SGD", now=now)
        card = provision_card(session, "tapwallet", "ana", "card-1", "04A1B2C3D4E5F6", now=now)
        bo = open_account(session, "tapwallet", "bo", "adult", "SGD", now=now)
    ingestor = Ingestor(database, lambda: now)
    taps: list[tuple[str, str]] = []  # (tap id, medium), in the order tapped

    def top_up_and_ride(label: str, rides: list[str]) -> None:
        with database.transaction() as session:
            for account, card_id in (("ana", ""), ("ana", "card-1"), ("bo", "")):
                wanted = TopUp(
                    f"{label}-{account}-{card_id}",
                    account,
                    card_id,
                    Money(2000, "SGD"),
                    "app",
                    uuid.UUID(int=0),
                    now,
                )
                top_up(session, "tapwallet", wanted, now=now)
        batch = tap_pb2.TapBatch(device_id="gate-1", batch_id=label)
        for medium in rides:
            serial = len(taps) + 1
            tap = batch.taps.add(
                tap_id=f"tap-{serial}",
                device_sequence=serial,
                medium_token=medium,
                direction=TAP_DIRECTION_ON,
            )
            tap.tapped_at.FromDatetime(now - timedelta(seconds=100 - serial))
            taps.append((f"tap-{serial}", medium))
        outcome = ingestor.ingest("metro", seal_batch(batch, reader_key))
        assert {o.status for o in outcome.outcomes} == {TapStatus.ACCEPTED}, outcome

    a, c, b = ana.medium_token, card.medium_token, bo.medium_token
    top_up_and_ride("first", [a, b, c, a, b, a, c, b, a, b, c, a])
    assert Upkeep(database, [fold_totals]).catch_up() > 0 or database.dialect != "sqlite"
    top_up_and_ride("second", [b, a, c, a])  # these stay in the tails

    with database.transaction() as session:
        if database.dialect == "sqlite":
            # Both parts of each lookup hold some of ana's rows.
            connection = session.connection()
            runs_end = connection.exec_driver_sql(
                "SELECT max(last_rowid) FROM index_runs WHERE index_name = ?",
                (TAPS_BY_MEDIUM.name,),
            ).scalar_one()
            tap_rowids = session.scalars(
                select(literal_column("taps.rowid", Integer)).where(TapRow.medium_token.in_([a, c]))
            ).all()
            assert min(tap_rowids) <= runs_end < max(tap_rowids)
            folded = totals.folded_through(connection)
            debit_rowids = session.scalars(
                select(literal_column("ledger_transfers.rowid", Integer)).where(
                    LedgerTransferRow.debit_account_id == _funds(a)
                )
            ).all()
            assert min(debit_rowids) <= folded < max(debit_rowids)

        found = journeys(session, "tapwallet", "ana", None, None)
        assert [(t.tap_id, t.medium_token) for t in found] == [
            (tap, medium) for tap, medium in taps if medium in (a, c)
        ]
        assert all([f.amount for f in t.fares] == [Money(FARE, "SGD")] for t in found)

        rides = Counter(medium for _, medium in taps)
        held = account_balances(session, "tapwallet", "ana", now)
        assert held.account == Money(2 * 2000 - rides[a] * FARE, "SGD")
        assert [(v.card_id, money) for v, money in held.cards] == [
            ("card-1", Money(2 * 2000 - rides[c] * FARE, "SGD"))
        ]
        assert account_balances(session, "tapwallet", "bo", now).account == Money(
            2 * 2000 - rides[b] * FARE, "SGD"
        )

        # Every counter of every account, against a sum over every transfer.
        transfers = session.execute(
            select(
                LedgerTransferRow.debit_account_id,
                LedgerTransferRow.credit_account_id,
                LedgerTransferRow.amount,
                LedgerTransferRow.flags,
            )
        ).all()
        summed: Counter[tuple[uuid.UUID, str]] = Counter()
        for debit, credit, amount, flags in transfers:
            assert not flags & NOT_POSTED
            summed[debit, "debits"] += amount
            summed[credit, "credits"] += amount
        accounts = sorted({account for account, _ in summed})
        assert len(accounts) >= 5  # three riders' funds, top-up funding, fare revenue
        counted = balances(session, accounts, now)
        assert {
            account: (balance.debits_posted, balance.credits_posted)
            for account, balance in counted.items()
        } == {
            account: (summed[account, "debits"], summed[account, "credits"]) for account in accounts
        }
