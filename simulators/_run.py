"""``simulate``: a city's day driven through the real server over mTLS.

The day advances an hour at a time. In each hour the simulation sets the
server's clock to the hour's end, lets wallet providers top up, scan and
block, lets riders pass the gates (each reader storing its taps durably,
many readers at once), and then has every reader that is online upload.
Readers that are offline keep their taps and upload hours later. After
the last hour the clearing house closes the cycle and every check runs.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from clearing.pki import init_pki
from farebridge.codecs.cards import debit_to_bytes
from farebridge.codecs.emvco import vehicle_qr
from farebridge.codecs.ridecode import RideCodeRejectedError
from farebridge.v1 import (
    clearing_service_pb2,
    reader_service_pb2,
    wallet_service_pb2,
    wallet_service_pb2_grpc,
)
from readers import TAP_DIRECTION_OFF, TAP_DIRECTION_ON
from simulators._card import InsufficientBalanceError
from simulators._checks import Books, Check, export_logs, run_checks
from simulators._city import CLEARING_HOUSE, CURRENCY, City, MediumKind, build_city
from simulators._day import (
    OFFLINE_WINDOWS,
    Block,
    DayPlan,
    GatePass,
    ScanPay,
    TopUp,
    midnight,
    plan_day,
)
from simulators._faults import MAX_READER_SKEW, AckDroppingProxy, replay_shuffled
from simulators._server import ServerProcess, SimulatedClock
from simulators._world import (
    Installed,
    Parties,
    admit,
    install_readers,
    issue_cards,
    open_gates,
    open_wallets,
    parallel,
    retried,
)

Progress = Callable[[str, int, int], None]
# Hours 0..25: the last journeys of the day end after midnight.
HOURS = 26
KILL_AT_HOUR = 12
# Per chunk of answers, the chance the faulty link cuts the connection.
ACK_DROP = 0.1


@dataclass(frozen=True)
class SimulationSettings:
    """One simulated day.

    faults: kill the server mid-day, drop acknowledgements, duplicate and
        reorder batches, skew reader clocks.
    threads: how many readers (and wallet calls) run at once.
    """

    riders: int
    day: date
    seed: int
    work_dir: Path
    faults: bool = False
    threads: int = 16


@dataclass
class Tally:
    """What happened at the gates and the clearing house during the day."""

    taps: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    scans: int = 0
    top_ups: int = 0
    top_up_minor: int = 0
    refused_blocked: int = 0
    refused_balance: int = 0
    refused_ride_code: int = 0
    batches: int = 0
    upload_attempts: int = 0
    replayed_batches: int = 0
    journeys: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)


@dataclass(frozen=True)
class SimulationResult:
    """The day's summary and the books it ended in.

    positions: (participant, currency, gross credit, gross debit, net) rows.
    checkpoint_root: hex root of the signed tree head made at cycle close.
    """

    settings: SimulationSettings
    plan: DayPlan
    tally: Tally
    readers: int
    offline_readers: int
    cycle_number: int
    positions: tuple[tuple[str, str, int, int, int], ...]
    checkpoint_size: int
    checkpoint_root: str
    books: Books
    checks: tuple[Check, ...]
    server_restarts: int
    dropped_connections: int
    seconds: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def net_sums(self) -> dict[str, int]:
        sums: dict[str, int] = defaultdict(int)
        for _, currency, _, _, net in self.positions:
            sums[currency] += net
        return dict(sums)


class _Day:
    """The hour loop and everything it touches."""

    def __init__(
        self,
        settings: SimulationSettings,
        city: City,
        parties: Parties,
        installed: Installed,
        *,
        clock: SimulatedClock,
        server: ServerProcess,
    ) -> None:
        self.settings = settings
        self.city = city
        self.parties = parties
        self.installed = installed
        self.clock = clock
        self.server = server
        self.tally = Tally()
        self.devices = {d.device_id: d for d in city.devices}
        self.deny_version = 0
        self.gate_versions: dict[str, int] = {}
        self.faults = random.Random(f"faults/{settings.seed}")
        self.scans_acknowledged: set[str] = set()
        self.qr = {
            d.device_id: vehicle_qr(
                d.operator_id, d.stop_id, d.device_id, merchant_name="Bus Co",
                merchant_city="Harbour City", country="NL", currency=CURRENCY,
            )
            for d in city.devices if d.scan_only
        }  # fmt: skip
        self.refused_journeys: set[tuple[str, int]] = set()

    def online(self, device_id: str, hour: int) -> bool:
        window = OFFLINE_WINDOWS.get(device_id)
        return window is None or not window[0] <= hour < window[1]

    def hour(self, hour: int, events: Sequence[object]) -> None:
        start = midnight(self.settings.day) + timedelta(hours=hour)
        self.clock.set(start + timedelta(hours=1))
        online = [d for d in self.installed.readers if self.online(d, hour)]
        self._refresh_gates(online)
        wallet_ops = [e for e in events if isinstance(e, TopUp | ScanPay | Block)]
        self._by_rider(wallet_ops, self._wallet_op)
        passes = [e for e in events if isinstance(e, GatePass)]
        taps = self._gate_passes(passes)
        self._store_taps(taps)
        self._upload(online, hour)

    def _by_rider(self, events: Sequence[object], work: Callable[[object], None]) -> None:
        """Each rider's events in time order; riders in parallel."""
        grouped: dict[str, list[object]] = defaultdict(list)
        for event in events:
            grouped[event.rider.rider_id].append(event)  # type: ignore[attr-defined]

        def run(mine: list[object]) -> None:
            for event in mine:
                work(event)

        parallel(self.settings.threads, run, list(grouped.values()))

    def _refresh_gates(self, online: Sequence[str]) -> None:
        stale = [d for d in online if self.gate_versions.get(d, 0) < self.deny_version]

        def refresh(device_id: str) -> None:
            sync = self.installed.list_syncs[device_id]
            report = retried(lambda: sync.refresh(self.installed.gates[device_id]))
            self.gate_versions[device_id] = report.deny_list_version

        parallel(self.settings.threads, refresh, stale)

    def _wallet_op(self, event: object) -> None:
        if isinstance(event, TopUp):
            client = self.installed.clients[event.rider.issuer_id]
            retried(
                lambda: client.top_up(
                    event.top_up_id, event.rider.rider_id, event.amount_minor,
                    self.city.issuer(event.rider.issuer_id).currency,
                    source=event.source,
                )
            )  # fmt: skip
            self.tally.add(top_ups=1, top_up_minor=event.amount_minor)
        elif isinstance(event, ScanPay):
            self._scan(event)
        elif isinstance(event, Block):
            self._block(event)

    def _scan(self, event: ScanPay) -> None:
        request = wallet_service_pb2.ScanToPayRequest(
            scan_id=event.scan_id,
            account_id=event.rider.rider_id,
            vehicle_qr=self.qr[event.device.device_id],
        )
        request.scanned_at.FromDatetime(event.at)
        stub = self._wallet_stub(event.rider.issuer_id)
        answer = retried(lambda: stub.ScanToPay(request, timeout=30))
        if answer.status in (
            reader_service_pb2.TAP_STATUS_ACCEPTED,
            reader_service_pb2.TAP_STATUS_DUPLICATE,
        ):
            with self.tally.lock:
                self.scans_acknowledged.add(event.scan_id)
                self.tally.journeys.add(event.journey)
            self.tally.add(scans=1)

    def _block(self, event: Block) -> None:
        stub = self._wallet_stub(event.rider.issuer_id)
        request = wallet_service_pb2.BlockRequest(medium_token=event.rider.rider_id, reason="lost")
        answer = retried(lambda: stub.Block(request, timeout=30))
        self.deny_version = max(self.deny_version, answer.deny_list_version)

    def _wallet_stub(self, issuer_id: str) -> wallet_service_pb2_grpc.WalletServiceStub:
        """Scan to pay and blocks, which ``WalletClient`` does not wrap."""
        return wallet_service_pb2_grpc.WalletServiceStub(self.parties.channel(issuer_id))

    def _gate_passes(self, passes: Sequence[GatePass]) -> list[_StoredTap]:
        """What each gate admits: the card's debit, the phone's ride code,
        or a refusal. Riders in parallel, each rider in time order."""
        admitted: list[_StoredTap] = []
        lock = threading.Lock()

        def admit(event: object) -> None:
            assert isinstance(event, GatePass)
            tap = self._admit(event)
            if tap is not None:
                with lock:
                    admitted.append(tap)

        self._by_rider(passes, admit)
        return admitted

    def _admit(self, event: GatePass) -> _StoredTap | None:
        rider, device = event.rider, event.device
        journey = (rider.rider_id, event.journey)
        if journey in self.refused_journeys:
            return None  # refused earlier on this journey: the rider never got in
        gate = self.installed.gates[device.device_id]
        token = self.installed.tokens[rider.rider_id]
        card_debit: bytes | None = None
        ride_code: str | None = None
        if rider.kind is MediumKind.CARD:
            if token in gate.deny_list.rider_tokens:
                self._refuse(journey, refused_blocked=1)
                return None
            if event.on:
                card = self.installed.cards[rider.rider_id]
                try:
                    debit = card.debit(self.city.fare_of(device), device.device_id, event.at)
                except InsufficientBalanceError:
                    self._refuse(journey, refused_balance=1)
                    return None
                card_debit = debit_to_bytes(debit)
        else:
            ride_code = self.installed.wallets[rider.rider_id].next_code(event.at)
            try:
                gate.admit(ride_code, event.at)
            except RideCodeRejectedError:
                self._refuse(journey, refused_ride_code=1)
                return None
        with self.tally.lock:
            self.tally.journeys.add(event.journey)
        stamped = event.at + self.installed.skews[device.device_id]
        return _StoredTap(event, token, stamped, card_debit, ride_code)

    def _refuse(self, journey: tuple[str, int], **counts: int) -> None:
        with self.tally.lock:
            self.refused_journeys.add(journey)
        self.tally.add(**counts)

    def _store_taps(self, taps: Sequence[_StoredTap]) -> None:
        """Each reader stores its own taps, in the order it saw them."""
        by_reader: dict[str, list[_StoredTap]] = defaultdict(list)
        for tap in sorted(taps, key=lambda t: t.event.at):
            by_reader[tap.event.device.device_id].append(tap)

        def store(mine: list[_StoredTap]) -> None:
            for tap in mine:
                reader = self.installed.readers[tap.event.device.device_id]
                reader.tap(
                    tap.token,
                    TAP_DIRECTION_ON if tap.event.on else TAP_DIRECTION_OFF,
                    tapped_at=tap.stamped_at,
                    tap_id=tap.event.tap_id,
                    card_debit=tap.card_debit,
                    ride_code=tap.ride_code,
                )

        parallel(self.settings.threads, store, list(by_reader.values()))
        self.tally.add(taps=len(taps))

    def _upload(self, online: Sequence[str], hour: int) -> None:
        """Every online reader uploads; with faults, a reader back from
        hours offline first has its backlog sent shuffled and twice, and at
        KILL_AT_HOUR the server dies with SIGKILL while uploads run."""
        killer: threading.Thread | None = None
        if self.settings.faults and hour == KILL_AT_HOUR:
            killer = threading.Thread(target=self._kill_and_restart)
            killer.start()

        def upload(device_id: str) -> None:
            reader = self.installed.readers[device_id]
            if self.settings.faults and device_id in OFFLINE_WINDOWS and killer is None:
                connection = self.parties.connection(self.devices[device_id].operator_id)
                state_dir = self.settings.work_dir / "readers" / device_id
                generator = random.Random(f"replay/{self.settings.seed}/{device_id}/{hour}")
                sent = replay_shuffled(reader, state_dir, connection, generator)
                self.tally.add(replayed_batches=sent)
            report = reader.upload(max_attempts=40, initial_backoff=0.05, max_backoff=1.0)
            self.tally.add(
                accepted=report.accepted,
                duplicates=report.duplicates,
                rejected=report.rejected,
                batches=report.batches,
                upload_attempts=report.attempts,
            )

        try:
            parallel(self.settings.threads, upload, online)
        finally:
            if killer is not None:
                killer.join()

    def _kill_and_restart(self) -> None:
        time.sleep(0.05)  # let the uploads get going
        self.server.kill()
        time.sleep(0.5)
        self.server.restart()


@dataclass(frozen=True)
class _StoredTap:
    event: GatePass
    token: str
    stamped_at: datetime
    card_debit: bytes | None
    ride_code: str | None


def _skews(city: City, seed: int) -> dict[str, timedelta]:
    generator = random.Random(f"skew/{seed}")
    limit = int(MAX_READER_SKEW.total_seconds() * 1000)
    return {
        d.device_id: timedelta(milliseconds=generator.randint(-limit, limit))
        for d in city.devices
        if not d.scan_only
    }


def _set_up(
    settings: SimulationSettings, city: City, parties: Parties, clock: SimulatedClock
) -> Installed:
    installed = Installed()
    admit(parties, city)
    skews = _skews(city, settings.seed) if settings.faults else {}
    install_readers(
        parties, city, settings.work_dir / "readers", installed, clock=clock.now, skews=skews
    )
    issue_cards(parties, city, settings.seed, installed)
    expires = midnight(settings.day) + timedelta(days=3)
    open_wallets(
        parties, city, settings.work_dir / "phones", expires, installed, threads=settings.threads
    )
    open_gates(parties, city, installed, settings.threads)
    return installed


def _close(parties: Parties) -> clearing_service_pb2.Cycle:
    request = clearing_service_pb2.CloseCycleRequest(close_id="simulated-day")
    stub = parties.clearing(CLEARING_HOUSE)
    return retried(lambda: stub.CloseCycle(request, timeout=120)).cycle


def _acknowledged(day: _Day) -> set[str]:
    acknowledged = set(day.scans_acknowledged)
    for reader in day.installed.readers.values():
        acknowledged.update(
            t.tap_id for t in reader.stored_taps() if t.state in ("accepted", "duplicate")
        )
    return acknowledged


def simulate(settings: SimulationSettings, progress: Progress) -> SimulationResult:
    """Runs the whole day in ``settings.work_dir`` (PKI, SQLite database,
    reader queues, phones' counters, reader logs) and checks the books."""
    began = time.monotonic()
    work = settings.work_dir
    work.mkdir(parents=True, exist_ok=True)
    city = build_city(settings.riders, settings.seed)
    plan = plan_day(city, settings.day, settings.seed)
    names = [CLEARING_HOUSE, *(o.participant_id for o in city.operators)]
    layout = init_pki(work / "pki", names + [i.participant_id for i in city.issuers])
    clock = SimulatedClock(work / "clock")
    clock.set(midnight(settings.day) - timedelta(hours=1))
    database_url = f"sqlite:///{work / 'farebridge.db'}"
    server = ServerProcess(database_url, layout.directory, work / "clock")
    server.start()
    proxy = AckDroppingProxy(server.port, ACK_DROP, settings.seed) if settings.faults else None
    parties = Parties(layout, server.address, proxy.address if proxy else server.address)
    installed = Installed()
    try:
        progress("setting up the city", 0, 1)
        installed = _set_up(settings, city, parties, clock)
        progress("setting up the city", 1, 1)
        day = _Day(settings, city, parties, installed, clock=clock, server=server)
        by_hour: dict[int, list[object]] = defaultdict(list)
        start = midnight(settings.day)
        for event in plan.events:
            by_hour[min(HOURS - 1, int((event.at - start) / timedelta(hours=1)))].append(event)
        for hour in range(HOURS):
            day.hour(hour, by_hour[hour])
            progress("simulated hours", hour + 1, HOURS)
        clock.set(start + timedelta(hours=HOURS + 2))
        cycle = _close(parties)
        positions = tuple(
            (p.participant_id, p.currency, p.gross_credit, p.gross_debit, p.net)
            for p in cycle.positions
        )
        sums: dict[str, int] = defaultdict(int)
        for _, currency, _, _, net in positions:
            sums[currency] += net
        acknowledged = _acknowledged(day)
        log_rows = export_logs(installed.readers.values(), work / "reader-logs")
    finally:
        parties.close()
        installed.close()
        if proxy is not None:
            proxy.close()
        server.stop()
    progress("checking the books", 0, 1)
    checks, books = run_checks(database_url, layout.directory, log_rows, acknowledged, dict(sums))
    progress("checking the books", 1, 1)
    return SimulationResult(
        settings, plan, day.tally, len(installed.readers), len(OFFLINE_WINDOWS),
        cycle.cycle_number, positions, cycle.checkpoint.tree_size,
        cycle.checkpoint.root_hash.hex(), books, tuple(checks), server.restarts,
        proxy.dropped if proxy else 0, time.monotonic() - began,
    )  # fmt: skip
