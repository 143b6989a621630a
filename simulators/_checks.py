"""After the day: what the books say, and whether they hold.

Every check runs in-process on the clearing house's database, the way an
auditor with read access would: ``audit_check`` (balances, signed log,
cycle positions, charges traced to taps), ``reconcile`` over every reader's
exported log, and the simulation's own promise that no tap a reader saw
acknowledged is missing centrally.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from clearing.audit import audit_check, reconcile
from clearing.ledger import TransferFlags, ledger_origin
from clearing.pki import PkiLayout, load_signing_key
from clearing.storage import Database
from clearing.storage.models import LedgerAccountRow, LedgerTransferRow, TapRow
from farebridge.codecs import checkpoint as notes
from farebridge.codecs.reader_log import ReaderLogRow, read_reader_log
from readers import Reader
from simulators._city import CLEARING_HOUSE


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Books:
    """The ledger's final state, as two runs of one seed must share it.

    ledger_digest: SHA-256 over every transfer (id, accounts, amount,
        currency, code, user data, flags, timestamp) in id order.
    balances: (participant, account code, currency) -> posted net credit.
    """

    ledger_digest: str
    transfer_count: int
    balances: dict[str, int]
    revenue: dict[str, int]


def books(session: Session) -> Books:
    debit, credit = aliased(LedgerAccountRow), aliased(LedgerAccountRow)
    query = (
        select(LedgerTransferRow, debit, credit)
        .join(debit, debit.account_id == LedgerTransferRow.debit_account_id)
        .join(credit, credit.account_id == LedgerTransferRow.credit_account_id)
        .order_by(LedgerTransferRow.transfer_id)
    )
    digest = hashlib.sha256()
    balances: dict[str, int] = defaultdict(int)
    revenue: dict[str, int] = defaultdict(int)
    count = 0
    for transfer, source, sink in session.execute(query):
        count += 1
        digest.update(
            "\x1f".join(
                str(value)
                for value in (
                    transfer.transfer_id, transfer.debit_account_id, transfer.credit_account_id,
                    transfer.amount, transfer.currency, transfer.code, transfer.user_data,
                    transfer.flags, transfer.created_at.isoformat(),
                )
            ).encode() + b"\x1e"
        )  # fmt: skip
        if transfer.flags & (TransferFlags.PENDING | TransferFlags.VOID_PENDING):
            continue
        amount = int(transfer.amount)
        balances[f"{source.participant_id}/{source.code}/{source.currency}"] -= amount
        balances[f"{sink.participant_id}/{sink.code}/{sink.currency}"] += amount
        if transfer.code == "fare" and sink.code == "fare_revenue":
            revenue[sink.participant_id] += amount
    return Books(digest.hexdigest(), count, dict(sorted(balances.items())), dict(revenue))


def export_logs(readers: Iterable[Reader], logs_dir: Path) -> list[ReaderLogRow]:
    """Each reader's log, written as the operator would hand it to an
    auditor and read back from the file."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    rows: list[ReaderLogRow] = []
    for reader in readers:
        path = logs_dir / f"{reader.device_id}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            reader.export_log(out)
        rows.extend(read_reader_log(io.StringIO(path.read_text(encoding="utf-8"))))
    return rows


def _verifier_key(pki_dir: Path) -> str:
    public = load_signing_key(PkiLayout(pki_dir)).public_key()
    return notes.verifier_key(ledger_origin(CLEARING_HOUSE), public)


def run_checks(
    database_url: str,
    pki_dir: Path,
    log_rows: list[ReaderLogRow],
    acknowledged: set[str],
    net_sums: dict[str, int],
) -> tuple[list[Check], Books]:
    """Every check, and the books they were run on."""
    database = Database(database_url)
    try:
        with database.transaction() as session:
            audit = audit_check(session, _verifier_key(pki_dir))
            report = reconcile(session, log_rows)
            central = set(session.scalars(select(TapRow.tap_id)))
            final = books(session)
    finally:
        database.dispose()
    checks = [Check(f"audit: {r.name}", r.passed, r.detail) for r in audit.results]
    findings = "; ".join(
        f"{f.kind.value}: {f.count} ({', '.join(f.examples)})" for f in report.findings.values()
    )
    checks.append(
        Check(
            "reconciliation of every reader log",
            report.clean,
            findings or f"{report.log_rows} log rows agree with {report.central_taps} central taps",
        )
    )
    lost = sorted(acknowledged - central)
    checks.append(
        Check(
            "no acknowledged tap lost",
            not lost,
            f"{len(lost)} missing, e.g. {lost[:3]}" if lost else f"all {len(acknowledged)} stored",
        )
    )
    off = {currency: total for currency, total in net_sums.items() if total}
    checks.append(
        Check(
            "net positions sum to zero",
            not off,
            f"off: {off}" if off else f"in {', '.join(sorted(net_sums)) or 'no currency'}",
        )
    )
    return checks, final
