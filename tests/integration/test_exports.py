"""The ledger exported as hledger and beancount journals: the tools accept
them, and their trial balances agree with farebridge's own, to the cent."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from sqlalchemy import select

from clearing.audit import account_name, decimal_amount
from clearing.ledger import (
    AccountCode,
    AccountRef,
    TransferFlags,
    TransferRequest,
    TransferResult,
    account_id_for,
    balances,
    create_transfers,
    ensure_accounts,
)
from clearing.storage import Database
from clearing.storage.models import LedgerAccountRow

from .conftest import BUS, CARDS, METRO, WALLET, RawDevice, World, register_device, submit, tap


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required under CI=true (scripts/test.sh installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def farebridge(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "clearing", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def a_day_with_a_two_phase_hold(world: World) -> None:
    """Fares on two operators from two issuers, plus a hold that is partly
    posted and one that is voided (which must not reach the journals)."""
    metro, bus = RawDevice("metro-gate"), RawDevice("bus-gate")
    register_device(world, metro.device_id, metro.public_key, METRO, 1)
    register_device(world, bus.device_id, bus.public_key, BUS, 2)
    submit(world, METRO, metro.batch(tap("m-1", "card-1"), tap("m-2", "phone-1")))
    submit(world, BUS, bus.batch(tap("b-1", "card-2"), tap("b-2", "phone-2")))
    rider = AccountRef(WALLET, AccountCode.RIDER_FUNDS, "SGD", "phone-1")
    revenue = AccountRef(METRO, AccountCode.FARE_REVENUE, "SGD")
    held, voided = uuid.uuid4(), uuid.uuid4()
    hold = {
        "debit_account_id": account_id_for(rider),
        "credit_account_id": account_id_for(revenue),
        "amount": 500,
        "currency": "SGD",
        "code": "fare_hold",
        "user_data": "hold",
    }
    resolve = {"debit_account_id": None, "credit_account_id": None, "currency": None, "code": ""}
    requests = [
        TransferRequest(transfer_id=held, flags=TransferFlags.PENDING, **hold),  # type: ignore[arg-type]
        TransferRequest(transfer_id=voided, flags=TransferFlags.PENDING, **hold),  # type: ignore[arg-type]
        TransferRequest(
            transfer_id=uuid.uuid4(), flags=TransferFlags.POST_PENDING, pending_id=held,
            amount=333, **resolve,  # type: ignore[arg-type]
        ),
        TransferRequest(
            transfer_id=uuid.uuid4(), flags=TransferFlags.VOID_PENDING, pending_id=voided,
            amount=0, **resolve,  # type: ignore[arg-type]
        ),
    ]  # fmt: skip
    database = Database(world.database_url)
    now = datetime.now(UTC)
    with database.transaction() as session:
        ensure_accounts(session, [rider, revenue], now)
        results = create_transfers(session, requests, now)
    database.dispose()
    assert results == [TransferResult.OK] * 4


def farebridge_balances(world: World) -> dict[str, Decimal]:
    """Each account's posted debits minus credits, as farebridge computes them."""
    database = Database(world.database_url)
    try:
        with database.transaction() as session:
            rows = list(session.scalars(select(LedgerAccountRow)))
            counters = balances(session, [r.account_id for r in rows], datetime.now(UTC))
    finally:
        database.dispose()
    totals = {}
    for row in rows:
        minor = counters[row.account_id].debits_posted - counters[row.account_id].credits_posted
        totals[account_name(row)] = Decimal(decimal_amount(minor, row.currency))
    return {name: amount for name, amount in totals.items() if amount}


def test_hledger_reads_the_journal_and_its_balances_match(world: World, tmp_path: Path) -> None:
    hledger = _tool("hledger")
    a_day_with_a_two_phase_hold(world)
    journal = tmp_path / "ledger.journal"
    farebridge("export", "hledger", "--db", world.database_url, "-o", str(journal))
    report = subprocess.run(
        [hledger, "-f", str(journal), "balance", "--flat", "--no-total", "-O", "csv"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(report.stdout)))[1:]
    reported = {account: Decimal(amount.split()[0]) for account, amount in rows}
    assert reported == farebridge_balances(world)
    assert sum(reported.values()) == 0, "the journal balances"
    assert any(name.startswith(f"Income:FareRevenue:{METRO.title()}") for name in reported)


def test_beancount_checks_the_file_and_its_balances_match(world: World, tmp_path: Path) -> None:
    bean_check = _tool("bean-check")
    a_day_with_a_two_phase_hold(world)
    ledger = tmp_path / "ledger.beancount"
    farebridge("export", "beancount", "--db", world.database_url, "-o", str(ledger))
    checked = subprocess.run([bean_check, str(ledger)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    totals: dict[str, Decimal] = {}
    for entry in entries:
        for posting in getattr(entry, "postings", []):
            totals[posting.account] = totals.get(posting.account, Decimal(0)) + posting.units.number
    assert {a: n for a, n in totals.items() if n} == farebridge_balances(world)
    assert CARDS.title() in " ".join(totals)
