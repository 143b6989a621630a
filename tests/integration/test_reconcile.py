"""Reconciling reader logs with the central record: a clean day reports
nothing, and each injected discrepancy is found and named for what it is."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text

from clearing.audit import FindingKind, reconcile
from clearing.storage import Database, normalize_database_url
from farebridge.codecs.cards import debit_to_bytes
from farebridge.codecs.reader_log import read_reader_log
from farebridge.v1 import (
    audit_service_pb2,
    audit_service_pb2_grpc,
    clearing_service_pb2,
    registry_service_pb2,
)
from readers import TAP_DIRECTION_OFF, TAP_DIRECTION_ON, Reader
from simulators._card import SimulatedCard

from .conftest import AUDITOR, CARDS, CLEARING_HOUSE, METRO, World

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
AID, SYSTEM = bytes.fromhex("3042F5"), b"farebridge"
START = datetime.now(UTC) - timedelta(hours=1)


def _card(world: World) -> SimulatedCard:
    scheme = registry_service_pb2.CardScheme(aid=AID, system_identifier=SYSTEM, master_key=MASTER)
    world.registry(CARDS).RegisterCardScheme(
        registry_service_pb2.RegisterCardSchemeRequest(scheme=scheme)
    )
    card = SimulatedCard.issue(
        "card-77", bytes.fromhex("04AABBCCDDEEFF"), master_key=MASTER, aid=AID,
        system_identifier=SYSTEM, balance_minor=10_000,
    )  # fmt: skip
    medium = registry_service_pb2.Medium(medium_token=card.card_id, card_uid=card.uid)
    world.registry(CARDS).RegisterMedium(registry_service_pb2.RegisterMediumRequest(medium=medium))
    return card


def a_day(world: World, *, forged: bool = False, reorder: bool = False) -> Reader:
    """Six riders on and off at one gate, three card debits among them."""
    reader = world.install_reader("metro-gate-9")
    card = _card(world)
    for n in range(6):
        at = START + timedelta(minutes=5 * n)
        if reorder and n == 3:
            at -= timedelta(minutes=30)  # the reader's clock jumped back
        token = f"card-{n % 5 + 1}"
        if n % 2 == 0:
            debit = card.debit(190, "metro-gate-9", at)
            record = bytearray(debit_to_bytes(debit))
            if forged and n == 4:
                record[-20] ^= 1
            reader.tap(card.card_id, TAP_DIRECTION_ON, tapped_at=at, card_debit=bytes(record))
        else:
            reader.tap(token, TAP_DIRECTION_ON, tapped_at=at)
        reader.tap(token, TAP_DIRECTION_OFF, tapped_at=at + timedelta(minutes=2))
    reader.upload()
    return reader


def close(world: World) -> None:
    world.clearing(CLEARING_HOUSE).CloseCycle(clearing_service_pb2.CloseCycleRequest(close_id="d"))


def log_of(reader: Reader, edit: Callable[[list[str]], list[str]] = lambda lines: lines) -> str:
    out = io.StringIO()
    reader.export_log(out)
    lines = out.getvalue().splitlines()
    return "\n".join(edit(lines)) + "\n"


def kinds(world: World, log: str) -> set[FindingKind]:
    database = Database(world.database_url)
    try:
        with database.transaction() as session:
            report = reconcile(session, read_reader_log(io.StringIO(log)))
    finally:
        database.dispose()
    return set(report.findings)


def tamper(world: World, *statements: str) -> None:
    engine = create_engine(normalize_database_url(world.database_url))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE ledger_transfers DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS ledger_transfers_no_update"))
            connection.execute(text("DROP TRIGGER IF EXISTS ledger_transfers_no_delete"))
        for statement in statements:
            connection.execute(text(statement))
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE ledger_transfers ENABLE TRIGGER USER"))
    engine.dispose()


def test_a_clean_day_reconciles_and_the_cli_says_so(world: World, tmp_path: Path) -> None:
    reader = a_day(world)
    close(world)
    path = tmp_path / "gate.csv"
    path.write_text(log_of(reader))
    reader.close()
    result = subprocess.run(
        [sys.executable, "-m", "clearing", "audit", "reconcile", "--reader-log", str(path),
         "--db", world.database_url, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report == {"clean": True, "log_rows": 12, "central_taps": 12, "findings": []}


def test_a_duplicated_log_line_is_a_duplicate(world: World) -> None:
    reader = a_day(world)
    close(world)
    assert kinds(world, log_of(reader, lambda lines: [*lines, lines[3]])) == {
        FindingKind.DUPLICATE_IN_LOGS
    }
    reader.close()


def test_a_tap_dropped_centrally_is_missing_and_its_fare_has_no_source(world: World) -> None:
    reader = a_day(world)
    dropped = reader.stored_taps()[2].tap_id  # a plain tap-on
    tamper(world, f"DELETE FROM taps WHERE tap_id = '{dropped}'")
    close(world)
    assert kinds(world, log_of(reader)) == {
        FindingKind.MISSING_CENTRALLY,
        FindingKind.TRANSFER_WITHOUT_SOURCE,
    }
    reader.close()


def test_a_tap_missing_from_the_log_is_unknown_to_the_logs(world: World) -> None:
    reader = a_day(world)
    close(world)
    found = kinds(world, log_of(reader, lambda lines: lines[:3] + lines[4:]))  # a plain tap-on
    assert found == {FindingKind.UNKNOWN_TO_LOGS, FindingKind.SEQUENCE_GAP}
    reader.close()


def test_a_reordered_reader_clock_is_reported(world: World) -> None:
    reader = a_day(world, reorder=True)
    close(world)
    assert kinds(world, log_of(reader)) == {FindingKind.SEQUENCE_REORDERED}
    reader.close()


def test_an_altered_fare_disagrees_with_the_card_debit(world: World) -> None:
    reader = a_day(world)
    card_tap = next(t for t in reader.stored_taps() if t.card_debit)
    tamper(world, f"UPDATE ledger_transfers SET amount = 999 WHERE user_data = '{card_tap.tap_id}'")
    close(world)
    assert kinds(world, log_of(reader)) == {FindingKind.CARD_DEBIT_MISMATCH}
    reader.close()


def test_a_removed_ledger_row_leaves_a_tap_without_its_charge(world: World) -> None:
    reader = a_day(world)
    victim = reader.stored_taps()[2].tap_id
    tamper(world, f"DELETE FROM ledger_transfers WHERE user_data = '{victim}'")
    close(world)
    assert kinds(world, log_of(reader)) == {FindingKind.TAP_WITHOUT_CHARGE}
    reader.close()


def test_a_forged_card_debit_is_named_as_forged(world: World) -> None:
    reader = a_day(world, forged=True)
    close(world)
    assert kinds(world, log_of(reader)) == {FindingKind.FORGED_CARD_DEBIT}
    reader.close()


def test_a_malformed_log_is_a_clear_error(world: World, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("tap_id,oops\n1,2\n")
    result = subprocess.run(
        [sys.executable, "-m", "clearing", "audit", "reconcile", "--reader-log", str(path),
         "--db", world.database_url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "header" in result.stderr
    assert "Traceback" not in result.stderr


def audit(world: World, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearing", "audit", *extra, "--db", world.database_url, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_full_audit_passes_on_a_clean_day_and_names_what_breaks(world: World) -> None:
    reader = a_day(world)
    close(world)
    tap_on = reader.stored_taps()[2].tap_id
    reader.close()
    pki = ["--pki", str(world.pki.directory)]
    clean = audit(world, "check", *pki)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert all(c["passed"] for c in json.loads(clean.stdout)["checks"])
    balance = audit(world, "trial-balance")
    assert balance.returncode == 0
    assert json.loads(balance.stdout)[0]["balanced"] is True

    tamper(world, f"UPDATE ledger_transfers SET amount = amount + 5 WHERE user_data = '{tap_on}'")
    broken = audit(world, "check", *pki)
    assert broken.returncode == 1
    failed = {c["name"] for c in json.loads(broken.stdout)["checks"] if not c["passed"]}
    assert failed == {"signed log", "cycle positions", "settlement reports"}


def _lines(log: str) -> list[audit_service_pb2.ReaderLogLine]:
    lines = []
    for row in read_reader_log(io.StringIO(log)):
        line = audit_service_pb2.ReaderLogLine(
            tap_id=row.tap_id, device_id=row.device_id, device_sequence=row.device_sequence,
            medium_token=row.medium_token, direction=row.direction, state=row.state,
            reject_reason=row.reject_reason,
        )  # fmt: skip
        line.tapped_at.FromDatetime(row.tapped_at)
        if row.card_counter is not None:
            line.card_counter = row.card_counter
        if row.card_debit_minor is not None:
            line.card_debit_minor = row.card_debit_minor
        lines.append(line)
    return lines


def test_auditors_reconcile_over_a_stream_and_operators_may_not(world: World) -> None:
    reader = a_day(world)
    close(world)
    lines = _lines(log_of(reader, lambda rows: [*rows, rows[1]]))
    reader.close()
    chunks = [audit_service_pb2.ReconcileRequest(lines=lines[:5]),
              audit_service_pb2.ReconcileRequest(lines=lines[5:])]  # fmt: skip
    stub = audit_service_pb2_grpc.AuditServiceStub(world.channel(AUDITOR))
    answer = stub.Reconcile(iter(chunks))
    assert (answer.clean, answer.log_rows, answer.central_taps) == (False, 13, 12)
    assert [(f.kind, f.count) for f in answer.findings] == [("duplicate_in_logs", 1)]
    operator = audit_service_pb2_grpc.AuditServiceStub(world.channel(METRO))
    with pytest.raises(grpc.RpcError) as caught:
        operator.Reconcile(iter(chunks))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
