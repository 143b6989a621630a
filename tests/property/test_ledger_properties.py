"""The ledger does not depend on how taps arrive.

Random taps from a small city are cut into signed batches in random ways,
re-sent at random and delivered in random order. Whatever happens, each tap
is charged exactly once, the ledger balances per currency, a clearing cycle
nets to zero, and the final ledger is the one you get by sending every tap
once, in order. A reference model (``expected``) prices the taps
independently of the engine.
"""

from __future__ import annotations

import shutil
import tempfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import aliased

from clearing.errors import NothingToCloseError
from clearing.fares import UnpricedReason, set_flat_fare
from clearing.ingest import MAX_CLOCK_SKEW, Ingestor, TapRejectReason, TapStatus
from clearing.ledger import trial_balance
from clearing.registry import register_device, register_medium, register_participant
from clearing.settlement import CycleSummary, close_cycle
from clearing.storage import Database
from clearing.storage.models import (
    LedgerAccountRow,
    LedgerTransferRow,
    TapRow,
    UnpricedTapRow,
)
from clearing.values import Device, Direction, Mode, Money, Participant, Role
from farebridge.codecs import generate_device_key, public_key_bytes, seal_batch
from farebridge.v1 import common_pb2, tap_pb2

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# The transfer column naming the business event (the tap id).
EVENT_REF = LedgerTransferRow.user_data

# ------------------------------------------------------------------ the city

PARTICIPANTS = [
    Participant("clearing-house", "Clearing house", Role.CLEARING_HOUSE, "SGD"),
    Participant("op-metro", "Metro", Role.OPERATOR, "SGD"),
    Participant("op-bus", "Buses", Role.OPERATOR, "SGD"),
    Participant("op-ferry", "Ferries", Role.OPERATOR, "KRW"),
    Participant("issuer-sgd", "SGD card issuer", Role.ISSUER, "SGD"),
    Participant("issuer-krw", "KRW wallet", Role.ISSUER, "KRW"),
]
FARES = {
    ("op-metro", Mode.METRO): Money(190, "SGD"),
    ("op-bus", Mode.BUS): Money(120, "SGD"),
    ("op-bus", Mode.TRAM): Money(0, "SGD"),  # a free shuttle: charged nothing, not unpriced
    ("op-ferry", Mode.FERRY): Money(1350, "KRW"),
}
# device: (operator, mode). The two "no fare" devices run modes their operator never priced.
DEVICES = {
    "metro-gate-1": ("op-metro", Mode.METRO),
    "metro-gate-2": ("op-metro", Mode.METRO),
    "metro-feeder-9": ("op-metro", Mode.BUS),  # no fare
    "bus-front-1": ("op-bus", Mode.BUS),
    "bus-shuttle-2": ("op-bus", Mode.TRAM),
    "ferry-pier-1": ("op-ferry", Mode.FERRY),
    "ferry-tram-3": ("op-ferry", Mode.TRAM),  # no fare
}
DEVICE_KEYS = {device: generate_device_key() for device in DEVICES}
MEDIA = {
    "card-ann": "issuer-sgd",
    "card-bo": "issuer-sgd",
    "card-cy": "issuer-sgd",
    "wallet-kim": "issuer-krw",
    "wallet-lee": "issuer-krw",
}
UNREGISTERED_MEDIA = ["card-ghost", "card-void"]
CURRENCY_OF = {p.participant_id: p.settlement_currency for p in PARTICIPANTS}


def open_city(url: str) -> Database:
    """A migrated database with every participant, fare, reader and medium registered."""
    database = Database(url)
    database.migrate()
    with database.transaction() as session:
        for participant in PARTICIPANTS:
            register_participant(session, participant, NOW)
        for (operator, mode), fare in FARES.items():
            set_flat_fare(session, operator, mode, fare, NOW)
        for device, (operator, mode) in DEVICES.items():
            key = public_key_bytes(DEVICE_KEYS[device])
            register_device(session, Device(device, operator, key, f"stop-{device}", mode), NOW)
        for medium, issuer in MEDIA.items():
            register_medium(session, medium, issuer, NOW)
    return database


@contextmanager
def city_database(url: str) -> Iterator[Database]:
    database = open_city(url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def city_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, registered SQLite city, closed (so its WAL is checkpointed
    into the main file) and copied for each example: far cheaper than
    migrating and registering twice per example."""
    path = tmp_path_factory.mktemp("city") / "template.db"
    open_city(f"sqlite:///{path}").dispose()
    assert not path.with_name("template.db-wal").exists()
    return path


@contextmanager
def fresh_sqlite_cities(template: Path, count: int) -> Iterator[list[Database]]:
    """Fresh copies of the city in a temporary directory of their own:
    hypothesis reuses function-scoped fixtures across examples, so tmp_path
    cannot serve."""
    with tempfile.TemporaryDirectory(prefix="farebridge-prop-") as directory:
        databases: list[Database] = []
        try:
            for n in range(count):
                copy = Path(directory) / f"city-{n}.db"
                shutil.copyfile(template, copy)
                databases.append(Database(f"sqlite:///{copy}"))
            yield databases
        finally:
            for database in databases:
                database.dispose()


# ------------------------------------------------------------------ taps and batches


class TapSpec(NamedTuple):
    """One tap as a reader saw it; ``seconds`` is its time relative to NOW."""

    tap_id: str
    medium: str
    direction: Direction
    device: str
    seconds: float

    @property
    def operator(self) -> str:
        return DEVICES[self.device][0]

    @property
    def in_the_future(self) -> bool:
        return timedelta(seconds=self.seconds) > MAX_CLOCK_SKEW

    @property
    def invalid_id(self) -> bool:
        """A NUL in the id: refused, as PostgreSQL's text could not hold it."""
        return "\x00" in self.tap_id

    @property
    def refused(self) -> bool:
        return self.invalid_id or self.in_the_future


def tap(tap_id: str, medium: str, direction: str, device: str, seconds: float = -60) -> TapSpec:
    return TapSpec(tap_id, medium, Direction(direction), device, seconds)


def script(text: str) -> list[TapSpec]:
    """One tap per line: ``tap_id  medium  on|off  device  [seconds from now]``."""
    lines = [line.split() for line in text.strip().splitlines()]
    return [
        tap(tap_id, medium, direction, device, *(float(at) for at in seconds))
        for tap_id, medium, direction, device, *seconds in lines
    ]


_WIRE_DIRECTION = {
    Direction.ON: common_pb2.TAP_DIRECTION_ON,
    Direction.OFF: common_pb2.TAP_DIRECTION_OFF,
}


class Send(NamedTuple):
    """One upload: the caller, the signed bytes, and the taps they carry in order."""

    operator: str
    signed: tap_pb2.SignedTapBatch
    taps: tuple[TapSpec, ...]


def seal(batch_id: str, taps: Sequence[TapSpec]) -> Send:
    device = taps[0].device
    assert all(t.device == device for t in taps), "a batch carries one reader's taps"
    batch = tap_pb2.TapBatch(device_id=device, batch_id=batch_id)
    batch.sealed_at.FromDatetime(NOW)
    for spec in taps:
        message = batch.taps.add(
            tap_id=spec.tap_id,
            device_sequence=zlib.crc32(spec.tap_id.encode()),
            medium_token=spec.medium,
            direction=_WIRE_DIRECTION[spec.direction],
        )
        message.tapped_at.FromDatetime(NOW + timedelta(seconds=spec.seconds))
    return Send(taps[0].operator, seal_batch(batch, DEVICE_KEYS[device]), tuple(taps))


def once_in_order(taps: Sequence[TapSpec]) -> list[Send]:
    """The plain history: each run of one reader's consecutive taps is one batch."""
    sends: list[Send] = []
    run: list[TapSpec] = []
    for spec in taps:
        if run and run[-1].device != spec.device:
            sends.append(seal(f"plain-{len(sends)}", run))
            run = []
        run.append(spec)
    if run:
        sends.append(seal(f"plain-{len(sends)}", run))
    return sends


# ------------------------------------------------------------------ the reference model


class Expected(NamedTuple):
    ledger: list[tuple[str, int, str, str, str]]  # (tap, amount, currency, payer, payee)
    unpriced: dict[str, UnpricedReason]
    stored: set[str]


def expected(taps: Sequence[TapSpec]) -> Expected:
    """What flat fares mean, written independently of the engine."""
    ledger, unpriced = [], {}
    stored = {t.tap_id for t in taps if not t.refused}
    for spec in taps:
        if spec.refused or spec.direction is Direction.OFF:
            continue
        fare = FARES.get((spec.operator, DEVICES[spec.device][1]))
        issuer = MEDIA.get(spec.medium)
        if fare is None:
            unpriced[spec.tap_id] = UnpricedReason.NO_FARE
        elif issuer is None:
            unpriced[spec.tap_id] = UnpricedReason.UNKNOWN_MEDIUM
        elif CURRENCY_OF[issuer] != fare.currency:
            unpriced[spec.tap_id] = UnpricedReason.CURRENCY_MISMATCH
        elif fare.minor_units > 0:
            entry = (spec.tap_id, fare.minor_units, fare.currency, issuer, spec.operator)
            ledger.append(entry)
    return Expected(sorted(ledger), unpriced, stored)


# ------------------------------------------------------------------ reading the engine


def ledger_of(database: Database) -> list[tuple[str, int, str, str, str]]:
    """Every transfer as (source_ref, amount, currency, debited owner, credited owner)."""
    debit, credit = aliased(LedgerAccountRow), aliased(LedgerAccountRow)
    with database.transaction() as session:
        rows = session.execute(
            select(
                EVENT_REF,
                LedgerTransferRow.amount,
                LedgerTransferRow.currency,
                debit.participant_id,
                credit.participant_id,
            )
            .join(debit, debit.account_id == LedgerTransferRow.debit_account_id)
            .join(credit, credit.account_id == LedgerTransferRow.credit_account_id)
            # A close posts settlement instructions; this history is about fares.
            .where(LedgerTransferRow.code != "settlement")
        )
        return sorted(
            (ref, int(amount), cur, payer, payee) for ref, amount, cur, payer, payee in rows
        )


def unpriced_of(database: Database) -> dict[str, UnpricedReason]:
    with database.transaction() as session:
        rows = session.execute(select(UnpricedTapRow.tap_id, UnpricedTapRow.reason))
        return {tap_id: UnpricedReason(reason) for tap_id, reason in rows}


def stored_taps_of(database: Database) -> dict[str, tuple[str, str, str, datetime]]:
    with database.transaction() as session:
        rows = session.execute(
            select(
                TapRow.tap_id,
                TapRow.device_id,
                TapRow.medium_token,
                TapRow.direction,
                TapRow.tapped_at,
            )
        )
        return {
            tap_id: (device, medium, direction, at)
            for tap_id, device, medium, direction, at in rows
        }


def deliver(database: Database, sends: Sequence[Send], seen: set[str]) -> None:
    """Ingests each send in turn and checks every tap's answer: accepted the
    first time the server sees its id, duplicate after, and future taps and
    ids with a NUL rejected every time. ``seen`` carries what the server has
    accepted."""
    ingestor = Ingestor(database, lambda: NOW)
    for send in sends:
        outcome = ingestor.ingest(send.operator, send.signed)
        assert [o.tap_id for o in outcome.outcomes] == [t.tap_id for t in send.taps]
        for spec, answer in zip(send.taps, outcome.outcomes, strict=True):
            if spec.invalid_id:
                assert (answer.status, answer.reject_reason) == (
                    TapStatus.REJECTED,
                    TapRejectReason.INVALID_TAP_ID,
                ), answer
            elif spec.in_the_future:
                assert (answer.status, answer.reject_reason) == (
                    TapStatus.REJECTED,
                    TapRejectReason.FUTURE_TIME,
                ), answer
            elif spec.tap_id in seen:
                assert answer.status is TapStatus.DUPLICATE, answer
            else:
                assert answer.status is TapStatus.ACCEPTED, answer
                seen.add(spec.tap_id)


def close(database: Database, close_id: str) -> CycleSummary:
    with database.transaction() as session:
        return close_cycle(session, close_id, NOW)


def check_history(
    database: Database, reference: Database, taps: list[TapSpec], sends: list[Send]
) -> None:
    """Delivers ``sends`` to ``database`` and the plain history to ``reference``,
    then checks every property of the ledger and of clearing."""
    model = expected(taps)
    deliver(database, sends, set())
    deliver(reference, once_in_order(taps), set())

    ledger = ledger_of(database)
    assert ledger == model.ledger
    assert len({entry[0] for entry in ledger}) == len(ledger), "a tap was charged twice"
    assert ledger == ledger_of(reference), "the ledger depends on how taps arrived"
    assert unpriced_of(database) == model.unpriced == unpriced_of(reference)
    assert set(stored_taps_of(database)) == model.stored
    assert stored_taps_of(database) == stored_taps_of(reference)

    revenue: Counter[str] = Counter()
    for _, amount, currency, _, _ in ledger:
        revenue[currency] += amount
    with database.transaction() as session:
        balance = trial_balance(session)
    assert {currency: debits for currency, (debits, _) in balance.items()} == dict(revenue)
    assert all(debits == credits for debits, credits in balance.values()), balance

    check_clearing(database, ledger, sends)


def check_clearing(
    database: Database, ledger: list[tuple[str, int, str, str, str]], sends: Sequence[Send]
) -> None:
    if not ledger:
        with pytest.raises(NothingToCloseError):
            close(database, "close-1")
        return
    summary = close(database, "close-1")
    assert summary.transfer_count == len(ledger)
    net: Counter[str] = Counter()
    for position in summary.positions:
        net[position.currency] += position.net
        assert position.net == position.gross_credit - position.gross_debit
    assert all(total == 0 for total in net.values()), summary.positions
    owed: defaultdict[tuple[str, str], int] = defaultdict(int)
    for _, amount, currency, payer, payee in ledger:
        owed[(payee, currency)] += amount
        owed[(payer, currency)] -= amount
    assert {(p.participant_id, p.currency): p.net for p in summary.positions} == dict(owed)

    assert close(database, "close-1") == summary, "repeating a close answers the same cycle"
    with pytest.raises(NothingToCloseError):
        close(database, "close-2")
    # Readers that never got their acks send everything again after the close:
    # nothing new is posted, so nothing can be cleared twice.
    deliver(database, sends, {t.tap_id for s in sends for t in s.taps if not t.refused})
    assert ledger_of(database) == ledger
    with pytest.raises(NothingToCloseError):
        close(database, "close-3")


# ------------------------------------------------------------------ strategies

tap_ids = st.one_of(
    st.uuids().map(str),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=64),
)
tap_specs = st.builds(
    TapSpec,
    tap_id=tap_ids,
    medium=st.sampled_from([*MEDIA, *UNREGISTERED_MEDIA]),
    direction=st.sampled_from(Direction),
    device=st.sampled_from(sorted(DEVICES)),
    # A day back, to a little beyond the allowed clock skew ahead.
    seconds=st.integers(-86_400_000_000, 400_000_000).map(lambda micros: micros / 1e6),
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[TapSpec], list[Send]]:
    """Taps, and one random way they reached the clearing house: cut into
    batches (a tap may travel in two different batches), batches resent whole,
    taps repeated inside a batch, everything in random order."""
    taps = draw(st.lists(tap_specs, max_size=40, unique_by=lambda t: t.tap_id))
    groups: defaultdict[tuple[str, int], list[TapSpec]] = defaultdict(list)
    for spec in taps:
        for label in draw(st.sets(st.integers(0, 3), min_size=1, max_size=2)):
            groups[(spec.device, label)].append(spec)
    sends = []
    for n, key in enumerate(sorted(groups)):
        members = draw(st.permutations(groups[key]))
        if draw(st.booleans()):
            members = [*members, members[0]]
        sends.append(seal(f"batch-{n}", members))
    retries = draw(st.lists(st.sampled_from(sends), max_size=6)) if sends else []
    order = draw(st.permutations([*sends, *retries]))
    return taps, list(order)


# ------------------------------------------------------------------ the properties


@given(histories())
def test_ledger_is_independent_of_batching_retries_and_order(
    city_template: Path, history: tuple[list[TapSpec], list[Send]]
) -> None:
    taps, sends = history
    with fresh_sqlite_cities(city_template, 2) as (database, reference):
        check_history(database, reference, taps, sends)


DAY_IN_THE_CITY = script("""
    t01  card-ann    on   metro-gate-1
    t02  card-ann    off  metro-gate-2
    t03  card-bo     on   bus-front-1
    t04  wallet-kim  on   ferry-pier-1
    t05  card-ann    on   ferry-pier-1
    t06  wallet-kim  on   metro-gate-1
    t07  card-ghost  on   metro-gate-1
    t08  card-cy     on   metro-feeder-9
    t09  wallet-lee  on   ferry-tram-3
    t10  card-bo     on   bus-shuttle-2
    t11  card-cy     on   metro-gate-2   300
    t12  card-cy     on   metro-gate-2   301
    t13  wallet-lee  on   ferry-pier-1   -3600
    t14  card-bo     off  bus-front-1
    t15  card-ann    on   bus-front-1
""")


def test_a_day_in_the_city_with_retries_and_reordering(database_url: str, tmp_path: Path) -> None:
    """The same properties on both databases, over one scripted day."""
    by_id = {spec.tap_id: spec for spec in DAY_IN_THE_CITY}

    def batch(batch_id: str, *ids: str) -> Send:
        return seal(batch_id, [by_id[i] for i in ids])

    gate_1 = batch("b1", "t01", "t06", "t07")
    ferry = batch("b2", "t04", "t05", "t13")
    sends = [
        batch("b3", "t11", "t12", "t11"),
        ferry,
        gate_1,
        batch("b4", "t02"),
        batch("b5", "t03", "t14", "t15"),
        gate_1,
        batch("b6", "t08"),
        batch("b7", "t09"),
        batch("b8", "t10"),
        batch("b9", "t15", "t03"),  # re-cut: the same taps in a new batch
        ferry,
    ]
    model = expected(DAY_IN_THE_CITY)
    assert {entry[0] for entry in model.ledger} == {"t01", "t03", "t04", "t11", "t13", "t15"}
    assert model.unpriced == {
        "t05": UnpricedReason.CURRENCY_MISMATCH,
        "t06": UnpricedReason.CURRENCY_MISMATCH,
        "t07": UnpricedReason.UNKNOWN_MEDIUM,
        "t08": UnpricedReason.NO_FARE,
        "t09": UnpricedReason.NO_FARE,
    }
    with (
        city_database(database_url) as database,
        city_database(f"sqlite:///{tmp_path / 'reference.db'}") as reference,
    ):
        check_history(database, reference, DAY_IN_THE_CITY, sends)


def test_reusing_a_tap_id_with_other_content_is_rejected_and_changes_nothing(
    database_url: str,
) -> None:
    original = script("""
        t-1  card-ann  on  metro-gate-1
        t-2  card-bo   on  metro-gate-1
    """)
    impostor = script("""
        t-1  card-bo   on  metro-gate-1
        t-3  card-cy   on  metro-gate-1
    """)
    with city_database(database_url) as database:
        ingestor = Ingestor(database, lambda: NOW)
        first = ingestor.ingest("op-metro", seal("b-1", original).signed)
        assert [o.status for o in first.outcomes] == [TapStatus.ACCEPTED, TapStatus.ACCEPTED]
        taps_before, ledger_before = stored_taps_of(database), ledger_of(database)

        answer = ingestor.ingest("op-metro", seal("b-2", impostor).signed)

        conflict, fresh = answer.outcomes
        assert (conflict.tap_id, conflict.status, conflict.reject_reason) == (
            "t-1",
            TapStatus.REJECTED,
            TapRejectReason.TAP_ID_CONFLICT,
        )
        assert (fresh.tap_id, fresh.status) == ("t-3", TapStatus.ACCEPTED)
        taps_after = stored_taps_of(database)
        assert taps_after["t-1"] == taps_before["t-1"]
        assert taps_after["t-1"][1] == "card-ann"
        assert {k: v for k, v in taps_after.items() if k != "t-3"} == taps_before
        assert ledger_of(database) == sorted(
            [*ledger_before, ("t-3", 190, "SGD", "issuer-sgd", "op-metro")]
        )
        assert [e for e in ledger_of(database) if e[0] == "t-1"] == [
            ("t-1", 190, "SGD", "issuer-sgd", "op-metro")
        ]
        # The original, sent again exactly, is still a plain duplicate.
        retry = ingestor.ingest("op-metro", seal("b-3", original[:1]).signed)
        assert [o.status for o in retry.outcomes] == [TapStatus.DUPLICATE]
