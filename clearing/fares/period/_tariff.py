"""A tariff: a GTFS-Fares v2 feed plus farebridge's extension files, read
once into immutable rules and lookup tables so pricing never parses.

The extension files are specified in docs.md: ``farebridge.toml`` (modes,
hoppers, the integrated distance scheme, caps, concessions, apportionment)
and the optional ``farebridge_distances.txt`` (stop-to-stop distances).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clearing.fares.gtfs import FareFeed, FeedError, FeedIssue, IssueCode, load_feed, parse_amount
from clearing.fares.gtfs._csv import Fields, read_table
from clearing.fares.gtfs._money import AmountError
from clearing.fares.period._errors import TariffError
from clearing.fares.period._legs import LegFares
from clearing.values import Currency, Mode, ParticipantId

EXTENSION_FILE = "farebridge.toml"
DISTANCES_FILE = "farebridge_distances.txt"

# GTFS route_type to farebridge's reader modes (reference, routes.txt).
ROUTE_TYPE_MODES = {0: Mode.TRAM, 1: Mode.METRO, 2: Mode.RAIL, 3: Mode.BUS, 4: Mode.FERRY}
APPORTIONMENT_RULES = frozenset({"standalone", "distance", "even"})


class ModeRule(NamedTuple):
    """How trips on one mode form and what a missing tap costs.

    tap_off: whether a trip ends with a tap-off; False makes every tap-on a
        whole trip (flat fares) and tap-offs on that mode free.
    max_trip_s: the longest a trip may take; a tap-off later than that does
        not end it, and an unpaired tap-on becomes incomplete once the
        horizon passes tap-on + this.
    tap_on_fare: what an open trip costs while its tap-off may still come.
    incomplete_fare: the maximum fare of an incomplete trip (None: unknown).
    """

    tap_off: bool
    max_trip_s: int
    tap_on_fare: int
    incomplete_fare: int | None


class Hopper(NamedTuple):
    """Trips on ``modes`` whose tap-on is within ``window_s`` of the first
    tap-on of the chain travel for one fare (London's Hopper fare)."""

    modes: frozenset[Mode]
    window_s: int


class Band(NamedTuple):
    """Each started ``step_m`` of distance in ``[from_m, to_m)`` costs
    ``amount``; ``to_m`` None means no upper end."""

    from_m: int
    to_m: int | None
    step_m: int
    amount: int


class Window(NamedTuple):
    """A transfer window of ``window_s`` for transfers whose previous trip
    ends in ``[start, end)`` local time; ``end <= start`` crosses midnight."""

    start: int
    end: int
    window_s: int


class DistanceScheme(NamedTuple):
    """The integrated distance fare (the Seoul model).

    modes: the modes a journey may combine.
    alone_flat: modes whose trip, ridden alone, pays no surcharge.
    max_transfers: transfers per journey (trips = transfers + 1).
    windows: time-of-day transfer windows; ``default_window_s`` otherwise.
    bands: surcharges on the summed distance.
    """

    modes: frozenset[Mode]
    alone_flat: frozenset[Mode]
    max_transfers: int
    default_window_s: int
    windows: tuple[Window, ...]
    bands: tuple[Band, ...]


class Cap(NamedTuple):
    """At most ``amount`` per ``period`` ("day" or "week") for the charges of
    journeys that use only ``modes`` and stay in ``areas`` (empty: any),
    for riders of ``rider_categories`` (empty: all)."""

    cap_id: str
    period: str
    amount: int
    modes: frozenset[Mode]
    areas: frozenset[str]
    rider_categories: frozenset[str]


class Concession(NamedTuple):
    """A rider category's discount on journey fares: ``percent_off`` (the
    fare rounds down) or a ``fixed`` fare per journey."""

    rider_category: str
    percent_off: int | None
    fixed: int | None


class Tariff(NamedTuple):
    """Everything pricing reads, with its lookups built once.

    feed: the GTFS-Fares v2 feed (standalone fares of single trips).
    zone: the local time zone of fare rules and service days.
    service_day_start_s: when a service day starts, seconds after midnight.
    routes_by_operator_mode: the route a reader without a route_id stands for.
    route_operators: route_id to its operator.
    stop_areas: stop_id to its areas (parent station's when it has none).
    distances_m: stop pair (both orders) to distance.
    leg_fares: standalone fares of single trips from the feed.
    """

    directory: Path
    feed: FareFeed
    currency: Currency
    zone: ZoneInfo
    service_day_start_s: int
    modes: Mapping[Mode, ModeRule]
    hoppers: tuple[Hopper, ...]
    distance: DistanceScheme | None
    caps: tuple[Cap, ...]
    concessions: Mapping[str, Concession]
    apportionment: Mapping[str, str]
    routes_by_operator_mode: Mapping[tuple[ParticipantId, Mode], str]
    route_operators: Mapping[str, ParticipantId]
    stop_areas: Mapping[str, frozenset[str]]
    distances_m: Mapping[tuple[str, str], int]
    leg_fares: LegFares


class _Reader:
    """Typed access to the TOML document, collecting every problem."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.issues: list[FeedIssue] = []

    def report(self, key: str, code: IssueCode, message: str) -> None:
        self.issues.append(FeedIssue(EXTENSION_FILE, None, key, code, message))

    def table(self, data: Mapping[str, object], key: str, path: str) -> Mapping[str, object]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.report(f"{path}{key}", IssueCode.INVALID_VALUE, "must be a table")
            return {}
        return value

    def tables(self, data: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            self.report(key, IssueCode.INVALID_VALUE, "must be an array of tables ([[...]])")
            return []
        return value

    def amount(self, data: Mapping[str, object], key: str, path: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise AmountError(f'write amounts as strings like "2.75", not {value!r}')
            return parse_amount(value, self.currency)
        except AmountError as error:
            self.report(f"{path}{key}", IssueCode.INVALID_AMOUNT, str(error))
            return None

    def integer(self, data: Mapping[str, object], key: str, path: str, default: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.report(f"{path}{key}", IssueCode.INVALID_VALUE, "must be a whole number >= 0")
            return default
        return value

    def clock(self, data: Mapping[str, object], key: str, path: str, default: str) -> int:
        value = data.get(key, default)
        try:
            parsed = time.fromisoformat(str(value))
        except ValueError:
            self.report(f"{path}{key}", IssueCode.INVALID_TIME, f"{value!r} is not HH:MM")
            return 0
        return parsed.hour * 3600 + parsed.minute * 60 + parsed.second

    def modes(self, data: Mapping[str, object], key: str, path: str) -> frozenset[Mode]:
        values = self.strings(data, key, path)
        known = {mode.value for mode in Mode}
        for value in values - known:
            self.report(f"{path}{key}", IssueCode.INVALID_ENUM, f"{value!r} is not a mode")
        return frozenset(Mode(value) for value in values & known)

    def strings(self, data: Mapping[str, object], key: str, path: str) -> frozenset[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.report(f"{path}{key}", IssueCode.INVALID_VALUE, "must be a list of strings")
            return frozenset()
        return frozenset(value)


def _mode_rules(reader: _Reader, document: Mapping[str, object]) -> dict[Mode, ModeRule]:
    rules = {}
    for name, raw in reader.table(document, "modes", "").items():
        path = f"modes.{name}."
        if name not in {mode.value for mode in Mode} or not isinstance(raw, Mapping):
            reader.report(f"modes.{name}", IssueCode.INVALID_ENUM, "not a mode with a table")
            continue
        rules[Mode(name)] = ModeRule(
            tap_off=bool(raw.get("tap_off", False)),
            max_trip_s=60 * reader.integer(raw, "max_trip_minutes", path, 180),
            tap_on_fare=reader.amount(raw, "tap_on_fare", path) or 0,
            incomplete_fare=reader.amount(raw, "incomplete_fare", path),
        )
    return rules


def _hoppers(reader: _Reader, document: Mapping[str, object]) -> tuple[Hopper, ...]:
    return tuple(
        Hopper(
            reader.modes(raw, "modes", f"hoppers[{n}]."),
            60 * reader.integer(raw, "minutes", f"hoppers[{n}].", 60),
        )
        for n, raw in enumerate(reader.tables(document, "hoppers"))
    )


def _band(reader: _Reader, raw: Mapping[str, object], path: str) -> Band:
    to_km = raw.get("to_km")
    to_m = None if to_km is None else reader.integer(raw, "to_km", path, 0) * 1000
    step = reader.integer(raw, "step_km", path, 1) * 1000
    if step == 0:
        reader.report(f"{path}step_km", IssueCode.INVALID_VALUE, "must be at least 1")
        step = 1000
    return Band(
        reader.integer(raw, "from_km", path, 0) * 1000,
        to_m,
        step,
        reader.amount(raw, "amount", path) or 0,
    )


def _distance(reader: _Reader, document: Mapping[str, object]) -> DistanceScheme | None:
    raw = reader.table(document, "distance", "")
    if not raw:
        return None
    windows = tuple(
        Window(
            reader.clock(window, "start", f"distance.windows[{n}].", "00:00"),
            reader.clock(window, "end", f"distance.windows[{n}].", "00:00"),
            60 * reader.integer(window, "minutes", f"distance.windows[{n}].", 30),
        )
        for n, window in enumerate(reader.tables(raw, "windows"))
    )
    bands = tuple(
        _band(reader, band, f"distance.bands[{n}].")
        for n, band in enumerate(reader.tables(raw, "bands"))
    )
    return DistanceScheme(
        modes=reader.modes(raw, "modes", "distance."),
        alone_flat=reader.modes(raw, "flat_when_alone", "distance."),
        max_transfers=reader.integer(raw, "max_transfers", "distance.", 4),
        default_window_s=60 * reader.integer(raw, "window_minutes", "distance.", 30),
        windows=windows,
        bands=bands,
    )


def _caps(reader: _Reader, document: Mapping[str, object]) -> tuple[Cap, ...]:
    caps = []
    for n, raw in enumerate(reader.tables(document, "caps")):
        path = f"caps[{n}]."
        period = raw.get("period")
        if period not in {"day", "week"}:
            reader.report(f"{path}period", IssueCode.INVALID_ENUM, "must be 'day' or 'week'")
            continue
        amount = reader.amount(raw, "amount", path)
        if amount is None or amount < 0:
            reader.report(f"{path}amount", IssueCode.MISSING_VALUE, "a cap needs an amount >= 0")
            continue
        caps.append(
            Cap(
                str(raw.get("cap_id", f"cap-{n}")),
                str(period),
                amount,
                reader.modes(raw, "modes", path),
                reader.strings(raw, "areas", path),
                reader.strings(raw, "rider_categories", path),
            )
        )
    return tuple(caps)


def _concessions(reader: _Reader, document: Mapping[str, object]) -> dict[str, Concession]:
    concessions = {}
    for n, raw in enumerate(reader.tables(document, "concessions")):
        path = f"concessions[{n}]."
        category = raw.get("rider_category")
        percent = raw.get("percent_off")
        fixed = reader.amount(raw, "fixed", path)
        if not isinstance(category, str):
            reader.report(f"{path}rider_category", IssueCode.MISSING_VALUE, "is required")
            continue
        if percent is not None and (not isinstance(percent, int) or not 0 <= percent <= 100):
            reader.report(f"{path}percent_off", IssueCode.INVALID_VALUE, "must be 0 to 100")
            continue
        if (percent is None) == (fixed is None):
            reader.report(path.rstrip("."), IssueCode.INVALID_VALUE, "give percent_off or fixed")
            continue
        concessions[category] = Concession(category, percent, fixed)
    return concessions


def _apportionment(reader: _Reader, document: Mapping[str, object]) -> dict[str, str]:
    rules = {"default": "standalone"}
    for key, value in reader.table(document, "apportionment", "").items():
        if value not in APPORTIONMENT_RULES:
            allowed = ", ".join(sorted(APPORTIONMENT_RULES))
            reader.report(f"apportionment.{key}", IssueCode.INVALID_ENUM, f"must be {allowed}")
            continue
        rules[key] = str(value)
    return rules


def _distances(directory: Path, issues: list[FeedIssue]) -> dict[tuple[str, str], int]:
    table, found = read_table(directory, DISTANCES_FILE)
    issues.extend(found)
    distances: dict[tuple[str, str], int] = {}
    if table is None:
        return distances
    for row in table.rows:
        fields = Fields(table, row, issues)
        here, there = fields.required("from_stop_id"), fields.required("to_stop_id")
        metres = fields.integer("distance_m", minimum=0)
        if fields.ok and metres is not None:
            distances[here, there] = distances[there, here] = metres
    return distances


def _route_tables(
    feed: FareFeed,
) -> tuple[dict[tuple[ParticipantId, Mode], str], dict[str, ParticipantId]]:
    sole = feed.agencies[0] if len(feed.agencies) == 1 else None
    fallback = (sole.agency_id or sole.agency_name) if sole else ""
    operators = {route.route_id: route.agency_id or fallback for route in feed.routes}
    by_mode: dict[tuple[ParticipantId, Mode], str] = {}
    for route in sorted(feed.routes, key=lambda route: route.route_id):
        mode = ROUTE_TYPE_MODES.get(route.route_type if route.route_type is not None else -1)
        if mode is not None:
            by_mode.setdefault((operators[route.route_id], mode), route.route_id)
    return by_mode, operators


def _stop_areas(feed: FareFeed) -> dict[str, frozenset[str]]:
    direct: dict[str, set[str]] = {}
    for link in feed.stop_areas:
        direct.setdefault(link.stop_id, set()).add(link.area_id)
    areas = {stop: frozenset(found) for stop, found in direct.items()}
    for stop in feed.stops:
        if stop.stop_id not in areas and stop.parent_station in areas:
            areas[stop.stop_id] = areas[stop.parent_station]
    return areas


def _document(directory: Path) -> Mapping[str, object]:
    path = directory / EXTENSION_FILE
    if not path.is_file():
        issue = FeedIssue(EXTENSION_FILE, None, None, IssueCode.MISSING_FILE, "is required")
        raise TariffError([issue])
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        issue = FeedIssue(EXTENSION_FILE, None, None, IssueCode.UNREADABLE_FILE, str(error))
        raise TariffError([issue]) from None


def _zone(reader: _Reader, settings: Mapping[str, object], feed: FareFeed) -> ZoneInfo:
    name = settings.get("timezone") or (feed.agencies[0].timezone if feed.agencies else "UTC")
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        reader.report("tariff.timezone", IssueCode.INVALID_VALUE, f"{name!r} is not IANA")
        return ZoneInfo("UTC")


def _currency(settings: Mapping[str, object], feed: FareFeed) -> str:
    named = settings.get("currency")
    if isinstance(named, str):
        return named
    currencies = sorted({product.currency for product in feed.fare_products})
    return currencies[0] if currencies else "XXX"


def load_tariff(directory: Path) -> Tariff:
    """The tariff in ``directory``: a GTFS-Fares v2 feed with farebridge.toml
    beside it. Raises TariffError listing every problem (the GTFS feed's
    own issues included)."""
    directory = Path(directory)
    try:
        feed = load_feed(directory)
    except FeedError as error:
        raise TariffError(error.issues) from None
    document = _document(directory)
    settings = document.get("tariff", {})
    settings = settings if isinstance(settings, Mapping) else {}
    reader = _Reader(_currency(settings, feed))
    by_mode, operators = _route_tables(feed)
    tariff = Tariff(
        directory=directory,
        feed=feed,
        currency=reader.currency,
        zone=_zone(reader, settings, feed),
        service_day_start_s=reader.clock(settings, "service_day_start", "tariff.", "00:00"),
        modes=_mode_rules(reader, document),
        hoppers=_hoppers(reader, document),
        distance=_distance(reader, document),
        caps=_caps(reader, document),
        concessions=_concessions(reader, document),
        apportionment=_apportionment(reader, document),
        routes_by_operator_mode=by_mode,
        route_operators=operators,
        stop_areas=_stop_areas(feed),
        distances_m=_distances(directory, reader.issues),
        leg_fares=LegFares(feed),
    )
    if reader.issues:
        raise TariffError(reader.issues)
    return tariff
