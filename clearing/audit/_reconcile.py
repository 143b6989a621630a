"""Reconciling operators' reader logs with the central record.

An auditor holds what the readers saw (their logs) and what the clearing
house holds (taps, charges, ledger). Every way the two can disagree is a
named kind of finding, counted, with examples; an empty report means every
tap the readers saw was stored once, priced once and cleared, and nothing
central was invented.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from clearing.storage.models import (
    ClearingCycleRow,
    CycleTransferRow,
    FareChargeTapRow,
    LedgerTransferRow,
    TapRow,
    UnpricedTapRow,
    WalletTopUpRow,
)
from farebridge.codecs.reader_log import ReaderLogRow

EXAMPLES = 5
_CHUNK = 500


class FindingKind(StrEnum):
    """Each way the logs and the central record can disagree."""

    MISSING_CENTRALLY = "missing_centrally"
    """A reader says the tap was acknowledged, but clearing has no such tap."""
    UNKNOWN_TO_LOGS = "unknown_to_logs"
    """Clearing holds a tap of a logged reader that its log does not show."""
    DUPLICATE_IN_LOGS = "duplicate_in_logs"
    """One tap id appears on more than one log line."""
    ALTERED = "altered"
    """Clearing holds the tap with other content than the reader logged."""
    SEQUENCE_GAP = "sequence_gap"
    """A reader's sequence numbers skip: taps it made are in no log."""
    SEQUENCE_REORDERED = "sequence_reordered"
    """A later sequence number carries an earlier time than the one before."""
    CARD_COUNTER_GAP = "card_counter_gap"
    """A card's transaction counters skip between logged debits."""
    CARD_COUNTER_REPEAT = "card_counter_repeat"
    """One card counter appears on two different taps."""
    FORGED_CARD_DEBIT = "forged_card_debit"
    """A card debit that clearing refused because its MAC does not verify."""
    CARD_DEBIT_MISMATCH = "card_debit_mismatch"
    """The card debited another amount than clearing priced the tap at."""
    TAP_WITHOUT_CHARGE = "tap_without_charge"
    """A stored tap-on that no charge covers and no recorded reason explains."""
    UNCLEARED_CHARGE = "uncleared_charge"
    """A charge committed before the last cycle closed is in no cycle."""
    TRANSFER_WITHOUT_SOURCE = "transfer_without_source"
    """A ledger transfer names no tap, charge or top-up it came from."""


@dataclass
class Finding:
    kind: FindingKind
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


@dataclass
class ReconcileReport:
    """Findings by kind; ``clean`` when there are none."""

    log_rows: int = 0
    central_taps: int = 0
    findings: dict[FindingKind, Finding] = field(default_factory=dict)

    def add(self, kind: FindingKind, example: str) -> None:
        self.findings.setdefault(kind, Finding(kind)).add(example)

    @property
    def clean(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class CentralTap:
    device_id: str
    device_sequence: int
    tapped_at: datetime
    medium_token: str
    direction: str


def _central_taps(session: Session, devices: Sequence[str]) -> dict[str, CentralTap]:
    if session.get_bind().dialect.name == "sqlite":
        return _central_taps_sqlite(session, devices)
    found: dict[str, CentralTap] = {}
    columns = (
        TapRow.tap_id, TapRow.device_id, TapRow.device_sequence, TapRow.tapped_at,
        TapRow.medium_token, TapRow.direction,
    )  # fmt: skip
    for start in range(0, len(devices), _CHUNK):
        chunk = devices[start : start + _CHUNK]
        query = (
            select(*columns).where(TapRow.device_id.in_(chunk)).execution_options(yield_per=50_000)
        )
        for tap_id, device, sequence, at, token, direction in session.execute(query):
            found[tap_id] = CentralTap(device, sequence, at, token, direction)
    return found


def _central_taps_sqlite(session: Session, devices: Sequence[str]) -> dict[str, CentralTap]:
    """The same, read at the driver: a million timestamps parsed by the
    column type would take most of a reconciliation's time."""
    found: dict[str, CentralTap] = {}
    connection = session.connection()
    for start in range(0, len(devices), _CHUNK):
        chunk = devices[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = connection.exec_driver_sql(
            "SELECT tap_id, device_id, device_sequence, tapped_at, medium_token, direction"
            f" FROM taps WHERE device_id IN ({marks})",
            tuple(chunk),
        )
        for tap_id, device, sequence, at, token, direction in rows.all():
            instant = datetime.fromisoformat(at).replace(tzinfo=UTC)
            found[tap_id] = CentralTap(device, sequence, instant, token, direction)
    return found


def _compare_taps(
    rows: Sequence[ReaderLogRow], central: dict[str, CentralTap], report: ReconcileReport
) -> None:
    seen: set[str] = set()
    for row in rows:
        if row.tap_id in seen:
            report.add(FindingKind.DUPLICATE_IN_LOGS, f"{row.device_id}: {row.tap_id}")
            continue
        seen.add(row.tap_id)
        held = central.get(row.tap_id)
        if held is None:
            if row.state in ("accepted", "duplicate"):
                report.add(FindingKind.MISSING_CENTRALLY, f"{row.device_id}: {row.tap_id}")
            elif row.reject_reason == "TAP_REJECT_REASON_CARD_MAC_INVALID":
                report.add(FindingKind.FORGED_CARD_DEBIT, f"{row.medium_token}: {row.tap_id}")
            continue
        logged = (
            row.device_id,
            row.device_sequence,
            row.tapped_at,
            row.medium_token,
            row.direction,
        )
        stored = (
            held.device_id, held.device_sequence, held.tapped_at, held.medium_token,
            held.direction,
        )  # fmt: skip
        if logged != stored:
            report.add(FindingKind.ALTERED, f"{row.device_id}: {row.tap_id}")
    for tap_id in central.keys() - seen:
        report.add(FindingKind.UNKNOWN_TO_LOGS, f"{central[tap_id].device_id}: {tap_id}")


def _check_sequences(rows: Sequence[ReaderLogRow], report: ReconcileReport) -> None:
    by_device: dict[str, list[ReaderLogRow]] = defaultdict(list)
    for row in rows:
        by_device[row.device_id].append(row)
    for device, taps in sorted(by_device.items()):
        taps.sort(key=lambda r: r.device_sequence)
        previous: ReaderLogRow | None = None
        for row in taps:
            if previous is not None:
                if row.device_sequence > previous.device_sequence + 1:
                    first, last = previous.device_sequence + 1, row.device_sequence - 1
                    report.add(FindingKind.SEQUENCE_GAP, f"{device}: {first}-{last}")
                if row.tapped_at < previous.tapped_at:
                    report.add(
                        FindingKind.SEQUENCE_REORDERED,
                        f"{device}: {row.device_sequence} before {previous.device_sequence}",
                    )
            previous = row


def _check_card_counters(rows: Sequence[ReaderLogRow], report: ReconcileReport) -> None:
    by_card: dict[str, dict[int, str]] = defaultdict(dict)
    for row in rows:
        if row.card_counter is None or row.state == "rejected":
            continue
        earlier = by_card[row.medium_token].get(row.card_counter)
        if earlier is not None and earlier != row.tap_id:
            report.add(
                FindingKind.CARD_COUNTER_REPEAT, f"{row.medium_token}: counter {row.card_counter}"
            )
        by_card[row.medium_token][row.card_counter] = row.tap_id
    for card, counters in sorted(by_card.items()):
        ordered = sorted(counters)
        for low, high in itertools.pairwise(ordered):
            if high > low + 1:
                report.add(FindingKind.CARD_COUNTER_GAP, f"{card}: {low + 1}-{high - 1}")


def _tap_fares(session: Session, tap_ids: Sequence[str]) -> dict[str, int]:
    """What the rider paid for each tap that a charge covers alone."""
    fares: dict[str, int] = defaultdict(int)
    for start in range(0, len(tap_ids), _CHUNK):
        chunk = tap_ids[start : start + _CHUNK]
        direct = select(LedgerTransferRow.user_data, LedgerTransferRow.amount).where(
            LedgerTransferRow.user_data.in_(chunk), LedgerTransferRow.code == "fare"
        )
        for tap_id, amount in session.execute(direct):
            fares[tap_id] += int(amount)
    return fares


def _check_card_debits(
    session: Session, rows: Sequence[ReaderLogRow], report: ReconcileReport
) -> None:
    debits = {r.tap_id: r for r in rows if r.card_debit_minor is not None and r.state != "rejected"}
    fares = _tap_fares(session, sorted(debits))
    for tap_id, row in sorted(debits.items()):
        if tap_id in fares and fares[tap_id] != row.card_debit_minor:
            report.add(
                FindingKind.CARD_DEBIT_MISMATCH,
                f"{row.medium_token}: {tap_id} card {row.card_debit_minor}, priced {fares[tap_id]}",
            )


def check_charged(
    session: Session, central: dict[str, CentralTap], report: ReconcileReport
) -> None:
    """Every tap-on traces to its charge, or to the reason it has none
    (tap-offs are free under flat fares; a tariff charges the journey)."""
    ons = sorted(tap_id for tap_id, tap in central.items() if tap.direction == "on")
    explained: set[str] = set()
    for start in range(0, len(ons), _CHUNK):
        chunk = ons[start : start + _CHUNK]
        for query in (
            select(LedgerTransferRow.user_data).where(LedgerTransferRow.user_data.in_(chunk)),
            select(FareChargeTapRow.tap_id).where(FareChargeTapRow.tap_id.in_(chunk)),
            select(UnpricedTapRow.tap_id).where(UnpricedTapRow.tap_id.in_(chunk)),
        ):
            explained.update(session.scalars(query))
    for tap_id in ons:
        if tap_id not in explained:
            report.add(FindingKind.TAP_WITHOUT_CHARGE, f"{central[tap_id].device_id}: {tap_id}")


def check_ledger(session: Session, report: ReconcileReport) -> None:
    last_close = session.scalar(select(func.max(ClearingCycleRow.closed_at)))
    if last_close is not None:
        cleared = select(CycleTransferRow.transfer_id).where(
            CycleTransferRow.transfer_id == LedgerTransferRow.transfer_id
        )
        stray = select(LedgerTransferRow.transfer_id).where(
            LedgerTransferRow.created_at < last_close, ~cleared.exists()
        )
        for (transfer_id,) in session.execute(stray.limit(10_000)):
            report.add(FindingKind.UNCLEARED_CHARGE, str(transfer_id))
    data = LedgerTransferRow.user_data
    sources = {
        "fare": (TapRow.tap_id == data, FareChargeTapRow.charge_id == data),
        "fare_adjustment": (FareChargeTapRow.charge_id == data,),
        "top_up": (WalletTopUpRow.transfer_id == LedgerTransferRow.transfer_id,),
    }
    for code, conditions in sources.items():
        known = [select(literal(1)).where(condition) for condition in conditions]
        orphan = select(LedgerTransferRow.transfer_id, data).where(
            LedgerTransferRow.code == code, *(~query.exists() for query in known)
        )
        for transfer_id, user_data in session.execute(orphan.limit(10_000)):
            report.add(FindingKind.TRANSFER_WITHOUT_SOURCE, f"{code} {transfer_id} ({user_data})")


def reconcile(session: Session, rows: Iterable[ReaderLogRow]) -> ReconcileReport:
    """Runs every check; never raises for a discrepancy, only reports it."""
    log = list(rows)
    report = ReconcileReport(log_rows=len(log))
    central = _central_taps(session, sorted({row.device_id for row in log}))
    report.central_taps = len(central)
    _compare_taps(log, central, report)
    _check_sequences(log, report)
    _check_card_counters(log, report)
    _check_card_debits(session, log, report)
    check_charged(session, central, report)
    check_ledger(session, report)
    return report
