"""Reconciling reader logs: 1,000,000 reader-log rows against the central
record on SQLite, from the CSV files to the report.

The central record is prefilled with the same taps (by driver-level
executemany); the logs are written as CSV, read back and reconciled, with
the parse and the reconcile timed separately.

    .venv/bin/python benchmarks/reconcile_throughput.py [--rows 1000000] [--devices 1000]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clearing.audit import reconcile
from clearing.registry import register_device, register_participant
from clearing.storage import Database
from clearing.values import Device, Mode, Participant, Role
from farebridge.codecs.reader_log import ReaderLogRow, read_reader_log, write_reader_log

START = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)


def _rows(count: int, devices: int) -> list[ReaderLogRow]:
    per_device = count // devices
    return [
        ReaderLogRow(
            f"t{d:04d}-{n:07d}", f"gate-{d:04d}", n + 1,
            START + timedelta(seconds=n * 7 + d), f"tok-{(d * 7919 + n) % 200_000}",
            "on" if n % 2 == 0 else "off", "accepted",
        )
        for d in range(devices)
        for n in range(per_device)
    ]  # fmt: skip


def _prefill(database: Database, rows: list[ReaderLogRow], devices: int) -> None:
    now = datetime.now(UTC)
    with database.transaction() as session:
        register_participant(session, Participant("op", "Op", Role.OPERATOR, "SGD"), now)
        session.flush()
        for d in range(devices):
            device = Device(f"gate-{d:04d}", "op", bytes(32), f"stop-{d}", Mode.METRO)
            register_device(session, device, now)
    received = now.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    statement = (
        "INSERT INTO taps (tap_id, device_id, operator_id, device_sequence, tapped_at,"
        " medium_token, direction, batch_id, received_at, content_digest)"
        " VALUES (?, ?, 'op', ?, ?, ?, ?, 'b', ?, ?)"
    )
    for start in range(0, len(rows), 50_000):
        chunk = [
            (
                r.tap_id, r.device_id, r.device_sequence,
                r.tapped_at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds"),
                r.medium_token, r.direction, received, bytes(32),
            )
            for r in rows[start : start + 50_000]
        ]  # fmt: skip
        with database.transaction() as session:
            session.connection().exec_driver_sql(statement, chunk)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=1_000)
    arguments = parser.parse_args()
    rows = _rows(arguments.rows, arguments.devices)
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        database.migrate()
        _prefill(database, rows, arguments.devices)
        text = io.StringIO()
        write_reader_log(rows, text)
        began = time.perf_counter()
        parsed = list(read_reader_log(io.StringIO(text.getvalue())))
        parsing = time.perf_counter() - began
        began = time.perf_counter()
        with database.transaction() as session:
            report = reconcile(session, parsed)
        matching = time.perf_counter() - began
        database.dispose()
    print(f"reader-log rows        : {len(rows):>10,}")
    print(f"parse CSV              : {parsing:>10.2f} s")
    print(f"reconcile              : {matching:>10.2f} s")
    total = parsing + matching
    print(f"total                  : {total:>10.2f} s ({len(rows) / total:,.0f} rows/s)")
    # The prefilled taps carry no charges, so every tap-on is reported as a
    # tap without charge: the full path of the check runs on every row.
    findings = {kind.value: finding.count for kind, finding in report.findings.items()}
    print(f"findings               : {findings}")


if __name__ == "__main__":
    main()
