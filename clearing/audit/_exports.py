"""Journals for plain-text accounting tools, so auditors can check farebridge's
books with hledger and beancount, tools that know nothing of farebridge.

Every posted transfer (single-phase or the post of a pending one) becomes one
balanced entry with exact decimal amounts from integer minor units. Signs
follow plain-text accounting: the debited account gets the positive amount,
the credited account the negative one, so an account's journal balance is
its ``debits_posted - credits_posted``. Pending and voided transfers moved no
posted money and are left out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.ledger import posted_only
from clearing.storage.models import LedgerAccountRow, LedgerTransferRow
from farebridge.codecs.currencies import CURRENCY_EXPONENTS

_ROOTS = {"rider_funds": "Liabilities", "fare_revenue": "Income"}
_INVALID = re.compile(r"[^A-Za-z0-9-]")


@dataclass(frozen=True)
class JournalAccount:
    account_id: uuid.UUID
    name: str
    currency: str


@dataclass(frozen=True)
class JournalEntry:
    """One posted transfer: ``amount`` leaves ``credit`` and enters ``debit``'s
    side in plain-text-accounting signs."""

    day: date
    transfer_id: uuid.UUID
    code: str
    user_data: str
    debit: JournalAccount
    credit: JournalAccount
    minor_units: int
    currency: str

    @property
    def amount(self) -> str:
        return decimal_amount(self.minor_units, self.currency)


def _component(text: str) -> str:
    """An account-name component both tools accept: letters, digits and
    dashes, starting with a capital letter or a digit."""
    cleaned = _INVALID.sub("-", text) or "X"
    if not cleaned[0].isalnum():
        cleaned = "X" + cleaned
    return cleaned[0].upper() + cleaned[1:]


def account_name(row: LedgerAccountRow) -> str:
    code = "".join(part.capitalize() for part in row.code.split("_"))
    parts = [_ROOTS.get(row.code, "Equity"), _component(code), _component(row.participant_id)]
    if row.medium_token:
        parts.append(_component(row.medium_token))
    return ":".join(parts)


def decimal_amount(minor_units: int, currency: str) -> str:
    """Exact decimal text of an amount in minor units (no float on the way)."""
    exponent = CURRENCY_EXPONENTS[currency]
    sign = "-" if minor_units < 0 else ""
    whole, fraction = divmod(abs(minor_units), 10**exponent)
    return f"{sign}{whole}.{fraction:0{exponent}d}" if exponent else f"{sign}{whole}"


def journal_entries(session: Session) -> Iterator[JournalEntry]:
    """Posted transfers in commit order, with their accounts' journal names."""
    accounts = {
        row.account_id: JournalAccount(row.account_id, account_name(row), row.currency)
        for row in session.scalars(select(LedgerAccountRow))
    }
    query = (
        select(LedgerTransferRow)
        .where(posted_only())
        .order_by(LedgerTransferRow.created_at, LedgerTransferRow.transfer_id)
        .execution_options(yield_per=5_000)
    )
    for row in session.scalars(query):
        yield JournalEntry(
            row.created_at.date(), row.transfer_id, row.code, row.user_data,
            accounts[row.debit_account_id], accounts[row.credit_account_id],
            row.amount, row.currency,
        )  # fmt: skip


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hledger_journal(entries: Sequence[JournalEntry]) -> str:
    lines: list[str] = []
    for entry in entries:
        lines.append(f"{entry.day.isoformat()} * {entry.code} | {entry.user_data}")
        lines.append(f"    ; transfer: {entry.transfer_id}")
        lines.append(f"    {entry.debit.name}    {entry.amount} {entry.currency}")
        lines.append(f"    {entry.credit.name}    -{entry.amount} {entry.currency}")
        lines.append("")
    return "\n".join(lines)


def beancount_journal(entries: Sequence[JournalEntry]) -> str:
    """A beancount v3 file: options, one ``open`` per account (dated at its
    first use), then the transactions."""
    opened: dict[str, tuple[date, str]] = {}
    for entry in entries:
        for account in (entry.debit, entry.credit):
            opened.setdefault(account.name, (entry.day, account.currency))
    lines = ['option "title" "farebridge ledger"', ""]
    for name, (day, currency) in sorted(opened.items(), key=lambda item: (item[1][0], item[0])):
        lines.append(f"{day.isoformat()} open {name} {currency}")
    lines.append("")
    for entry in entries:
        lines.append(f"{entry.day.isoformat()} * {_quoted(entry.code)} {_quoted(entry.user_data)}")
        lines.append(f"  transfer_id: {_quoted(str(entry.transfer_id))}")
        lines.append(f"  {entry.debit.name}  {entry.amount} {entry.currency}")
        lines.append(f"  {entry.credit.name}  -{entry.amount} {entry.currency}")
        lines.append("")
    return "\n".join(lines)
