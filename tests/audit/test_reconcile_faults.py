"""Random combinations of faults injected into a clean day: each one is
found and named, nothing else is reported, and a clean day reports nothing."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from clearing.audit import FindingKind, reconcile
from clearing.fares import set_flat_fare
from clearing.ingest import Ingestor
from clearing.registry import register_device, register_medium, register_participant
from clearing.storage import Database
from clearing.values import Device, Mode, Money, Participant, Role
from farebridge.codecs import generate_device_key, public_key_bytes, seal_batch
from farebridge.codecs.reader_log import ReaderLogRow
from farebridge.v1 import common_pb2, tap_pb2

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TAPS = 24  # tap-on and tap-off for twelve riders, at one gate


@dataclass(frozen=True)
class CleanDay:
    path: Path
    log: tuple[ReaderLogRow, ...]


def _build(path: Path) -> CleanDay:
    database = Database(f"sqlite:///{path}")
    database.migrate()
    key = generate_device_key()
    with database.transaction() as session:
        for participant in (
            Participant("metro", "Metro", Role.OPERATOR, "SGD"),
            Participant("cards", "Cards", Role.ISSUER, "SGD"),
        ):
            register_participant(session, participant, NOW)
        session.flush()
        register_device(
            session, Device("gate", "metro", public_key_bytes(key), "central", Mode.METRO), NOW
        )
        set_flat_fare(session, "metro", Mode.METRO, Money(190, "SGD"), NOW)
        for rider in range(TAPS // 2):
            register_medium(session, f"card-{rider}", "cards", NOW)
    batch = tap_pb2.TapBatch(device_id="gate", batch_id="b1")
    log = []
    for sequence in range(1, TAPS + 1):
        rider, on = (sequence - 1) // 2, sequence % 2 == 1
        at = NOW - timedelta(hours=3) + timedelta(minutes=5 * sequence)
        direction = common_pb2.TAP_DIRECTION_ON if on else common_pb2.TAP_DIRECTION_OFF
        message = batch.taps.add(
            tap_id=f"tap-{sequence:02d}", device_sequence=sequence,
            medium_token=f"card-{rider}", direction=direction,
        )  # fmt: skip
        message.tapped_at.FromDatetime(at)
        log.append(
            ReaderLogRow(
                f"tap-{sequence:02d}", "gate", sequence, at, f"card-{rider}",
                "on" if on else "off", "accepted",
            )
        )  # fmt: skip
    Ingestor(database, lambda: NOW).ingest("metro", seal_batch(batch, key))
    database.dispose()
    return CleanDay(path, tuple(log))


@pytest.fixture(scope="module")
def clean_day(tmp_path_factory: pytest.TempPathFactory) -> CleanDay:
    return _build(tmp_path_factory.mktemp("day") / "clean.db")


@pytest.fixture
def copies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("copies")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# A fault: what it does, and what it may legitimately also cause.
FAULTS: dict[str, tuple[FindingKind, frozenset[FindingKind]]] = {
    "drop_central": (
        FindingKind.MISSING_CENTRALLY,
        frozenset({FindingKind.TRANSFER_WITHOUT_SOURCE}),
    ),
    "drop_log_line": (FindingKind.UNKNOWN_TO_LOGS, frozenset({FindingKind.SEQUENCE_GAP})),
    "duplicate_log_line": (FindingKind.DUPLICATE_IN_LOGS, frozenset()),
    "alter_log_token": (FindingKind.ALTERED, frozenset()),
    "delete_fare": (FindingKind.TAP_WITHOUT_CHARGE, frozenset()),
}


def _apply(database: Database, log: list[ReaderLogRow], fault: str, sequence: int) -> None:
    tap_id = f"tap-{sequence:02d}"
    index = next(i for i, row in enumerate(log) if row.tap_id == tap_id)
    if fault == "drop_central":
        with database.transaction() as session:
            session.execute(text("DELETE FROM taps WHERE tap_id = :t"), {"t": tap_id})
    elif fault == "drop_log_line":
        del log[index]
    elif fault == "duplicate_log_line":
        log.append(log[index])
    elif fault == "alter_log_token":
        log[index] = replace(log[index], medium_token="card-forged")
    elif fault == "delete_fare":
        with database.transaction() as session:
            session.execute(text("DROP TRIGGER IF EXISTS ledger_transfers_no_delete"))
            session.execute(
                text("DELETE FROM ledger_transfers WHERE user_data = :t"), {"t": tap_id}
            )


@settings(max_examples=25, deadline=None)
@given(
    faults=st.lists(
        st.tuples(st.sampled_from(sorted(FAULTS)), st.integers(0, TAPS // 2 - 1)),
        max_size=4,
        unique_by=lambda fault: fault[1],
    )
)
def test_every_injected_fault_is_found_and_nothing_else(
    clean_day: CleanDay, copies: Path, faults: list[tuple[str, int]]
) -> None:
    path = copies / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(clean_day.path, path)
    database = Database(f"sqlite:///{path}")
    log = list(clean_day.log)
    for fault, rider in faults:
        _apply(database, log, fault, 2 * rider + 1)  # each rider's tap-on
    with database.transaction() as session:
        found = set(reconcile(session, log).findings)
    database.dispose()
    expected = {FAULTS[fault][0] for fault, _ in faults}
    allowed = expected.union(*(FAULTS[fault][1] for fault, _ in faults))
    assert expected <= found, f"{faults} should be found"
    assert found <= allowed, f"{faults} reported more than it caused: {found - allowed}"
