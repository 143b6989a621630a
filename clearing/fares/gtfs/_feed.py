"""A GTFS-Fares v2 feed as immutable typed records.

``parse_feed`` reads every file this engine understands and turns each row
into a record, reporting field-level problems (a bad enum, an amount the
currency cannot hold) as issues. A row with an error is left out, so the
cross-file checks in ``_validate`` see only records that make sense.
Identifiers stay strings; amounts become integer minor units; times become
seconds since the start of the service day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from enum import IntEnum
from pathlib import Path
from typing import NamedTuple, TypeVar

from clearing.fares.gtfs._csv import Fields, Table, missing_columns, read_table
from clearing.fares.gtfs._issues import FeedIssue, IssueCode, Severity
from clearing.fares.gtfs._money import (
    AmountError,
    UnknownCurrencyError,
    decimal_places,
    parse_amount,
)
from farebridge.codecs.currencies import CURRENCY_EXPONENTS

DAY = 24 * 3600
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class DurationLimitType(IntEnum):
    """Which fare validation events bound ``duration_limit`` (first leg of the
    transfer sub-journey, then last leg)."""

    DEPARTURE_TO_ARRIVAL = 0
    DEPARTURE_TO_DEPARTURE = 1
    ARRIVAL_TO_DEPARTURE = 2
    ARRIVAL_TO_ARRIVAL = 3


class FareTransferType(IntEnum):
    """How a transfer is costed: A + AB, A + AB + B, or AB alone."""

    A_PLUS_AB = 0
    A_PLUS_AB_PLUS_B = 1
    AB = 2


class Agency(NamedTuple):
    """agency.txt: who operates routes. ``agency_id`` may be empty in a
    single-agency feed."""

    row: int
    agency_id: str | None
    agency_name: str
    timezone: str


class Stop(NamedTuple):
    """stops.txt, the parts fares read: identity and parent station."""

    row: int
    stop_id: str
    parent_station: str | None
    location_type: int


class Route(NamedTuple):
    """routes.txt: the operator (``agency_id``) and fare network of a route."""

    row: int
    route_id: str
    agency_id: str | None
    network_id: str | None
    route_type: int | None


class CalendarService(NamedTuple):
    """calendar.txt: a weekly pattern of days between two dates, inclusive.
    ``weekdays`` is Monday first."""

    row: int
    service_id: str
    weekdays: tuple[bool, ...]
    start_date: date
    end_date: date


class CalendarDate(NamedTuple):
    """calendar_dates.txt: one day added to (or removed from) a service."""

    row: int
    service_id: str
    date: date
    added: bool


class Timeframe(NamedTuple):
    """timeframes.txt: ``[start, end)`` in seconds of local time of day, on the
    days of ``service_id``. Empty times mean the whole day, 0 to 24:00:00."""

    row: int
    timeframe_group_id: str
    start: int
    end: int
    service_id: str


class RiderCategory(NamedTuple):
    """rider_categories.txt."""

    row: int
    rider_category_id: str
    rider_category_name: str
    is_default: bool


class FareMedium(NamedTuple):
    """fare_media.txt. ``fare_media_type``: 0 none, 1 paper, 2 card, 3 cEMV, 4 app."""

    row: int
    fare_media_id: str
    fare_media_name: str | None
    fare_media_type: int


class FareProduct(NamedTuple):
    """fare_products.txt: one price of a product, for one rider category (None:
    any) and one fare medium (None: unknown medium). ``amount`` is in minor
    units and may be negative (a transfer discount)."""

    row: int
    fare_product_id: str
    fare_product_name: str | None
    rider_category_id: str | None
    fare_media_id: str | None
    amount: int
    currency: str


class FareLegRule(NamedTuple):
    """fare_leg_rules.txt. Empty fields are None; their meaning depends on
    whether the file has a ``rule_priority`` column (see ``_match``)."""

    row: int
    leg_group_id: str | None
    network_id: str | None
    from_area_id: str | None
    to_area_id: str | None
    from_timeframe_group_id: str | None
    to_timeframe_group_id: str | None
    fare_product_id: str
    rule_priority: int


class FareLegJoinRule(NamedTuple):
    """fare_leg_join_rules.txt: when two consecutive legs count as one."""

    row: int
    from_network_id: str
    to_network_id: str
    from_stop_id: str | None
    to_stop_id: str | None


class FareTransferRule(NamedTuple):
    """fare_transfer_rules.txt. ``transfer_count`` -1 means no limit;
    ``fare_product_id`` None means the transfer itself costs nothing."""

    row: int
    from_leg_group_id: str | None
    to_leg_group_id: str | None
    transfer_count: int | None
    duration_limit: int | None
    duration_limit_type: DurationLimitType | None
    fare_transfer_type: FareTransferType
    fare_product_id: str | None


class Area(NamedTuple):
    row: int
    area_id: str
    area_name: str | None


class StopArea(NamedTuple):
    row: int
    area_id: str
    stop_id: str


class Network(NamedTuple):
    row: int
    network_id: str
    network_name: str | None


class RouteNetwork(NamedTuple):
    row: int
    network_id: str
    route_id: str


class FareFeed(NamedTuple):
    """Everything a quote reads, as loaded from one feed directory.

    files: the names of the files present.
    has_rule_priority: whether fare_leg_rules.txt declares ``rule_priority``;
        it switches the meaning of empty fields in leg rules.
    """

    files: frozenset[str]
    has_rule_priority: bool
    agencies: tuple[Agency, ...]
    stops: tuple[Stop, ...]
    routes: tuple[Route, ...]
    calendar: tuple[CalendarService, ...]
    calendar_dates: tuple[CalendarDate, ...]
    timeframes: tuple[Timeframe, ...]
    rider_categories: tuple[RiderCategory, ...]
    fare_media: tuple[FareMedium, ...]
    fare_products: tuple[FareProduct, ...]
    fare_leg_rules: tuple[FareLegRule, ...]
    fare_leg_join_rules: tuple[FareLegJoinRule, ...]
    fare_transfer_rules: tuple[FareTransferRule, ...]
    areas: tuple[Area, ...]
    stop_areas: tuple[StopArea, ...]
    networks: tuple[Network, ...]
    route_networks: tuple[RouteNetwork, ...]


_BOOL = {"0": 0, "1": 1}


def _agency(f: Fields) -> Agency:
    return Agency(
        f.number, f.optional("agency_id"), f.required("agency_name"), f.required("agency_timezone")
    )


def _stop(f: Fields) -> Stop:
    location_type = f.enum("location_type", {str(n): n for n in range(5)}, default=0)
    return Stop(f.number, f.required("stop_id"), f.optional("parent_station"), location_type or 0)


def _route(f: Fields) -> Route:
    return Route(
        f.number,
        f.required("route_id"),
        f.optional("agency_id"),
        f.optional("network_id"),
        f.integer("route_type", minimum=0),
    )


def _calendar(f: Fields) -> CalendarService:
    days = tuple(f.enum(day, _BOOL, default=None) == 1 for day in WEEKDAYS)
    start, end = f.date("start_date"), f.date("end_date")
    service = CalendarService(
        f.number, f.required("service_id"), days, start or date.min, end or date.min
    )
    if start and end and end < start:
        f.report("end_date", IssueCode.INVALID_DATE, "end_date is before start_date")
    return service


def _calendar_date(f: Fields) -> CalendarDate:
    exception = f.enum("exception_type", {"1": 1, "2": 2}, default=None)
    day = f.date("date")
    return CalendarDate(f.number, f.required("service_id"), day or date.min, exception == 1)


def _timeframe(f: Fields) -> Timeframe:
    start, end = f.time("start_time", maximum=DAY), f.time("end_time", maximum=DAY)
    if (f.optional("start_time") is None) != (f.optional("end_time") is None):
        field = "end_time" if f.optional("end_time") is None else "start_time"
        f.report(
            field,
            IssueCode.MISSING_VALUE,
            "start_time and end_time go together: give both or neither",
        )
    start, end = (0 if start is None else start), (DAY if end is None else end)
    if f.ok and start >= end:
        f.report(
            "end_time",
            IssueCode.EMPTY_TIMEFRAME,
            "end_time must be after start_time (the end is exclusive); "
            "split a timeframe that crosses midnight at 24:00:00",
        )
    return Timeframe(
        f.number, f.required("timeframe_group_id"), start, end, f.required("service_id")
    )


def _rider_category(f: Fields) -> RiderCategory:
    is_default = f.enum("is_default_fare_category", _BOOL, default=0)
    return RiderCategory(
        f.number,
        f.required("rider_category_id"),
        f.required("rider_category_name"),
        is_default == 1,
    )


def _fare_medium(f: Fields) -> FareMedium:
    media_type = f.enum("fare_media_type", {str(n): n for n in range(5)}, default=None)
    return FareMedium(
        f.number, f.required("fare_media_id"), f.optional("fare_media_name"), media_type or 0
    )


def _fare_product(f: Fields) -> FareProduct:
    currency, text = f.required("currency"), f.required("amount")
    amount = 0
    if currency and text:
        try:
            amount = parse_amount(text, currency)
        except UnknownCurrencyError as problem:
            f.report("currency", IssueCode.UNKNOWN_CURRENCY, str(problem))
        except AmountError as problem:
            f.report("amount", IssueCode.INVALID_AMOUNT, str(problem))
        else:
            _check_decimal_places(f, text, currency)
    return FareProduct(
        f.number,
        f.required("fare_product_id"),
        f.optional("fare_product_name"),
        f.optional("rider_category_id"),
        f.optional("fare_media_id"),
        amount,
        currency,
    )


def _check_decimal_places(f: Fields, text: str, currency: str) -> None:
    """The spec says amounts carry exactly the currency's decimals; gtfs.org's
    own examples do not always, so this is a warning, not an error."""
    if decimal_places(text) != CURRENCY_EXPONENTS[currency]:
        f.report(
            "amount",
            IssueCode.INVALID_AMOUNT,
            f"{currency} amounts should have {CURRENCY_EXPONENTS[currency]} decimal places, "
            f"e.g. {parse_amount(text, currency)} minor units; {text!r} is read exactly anyway",
            Severity.WARNING,
        )


def _fare_leg_rule(f: Fields) -> FareLegRule:
    return FareLegRule(
        f.number,
        f.optional("leg_group_id"),
        f.optional("network_id"),
        f.optional("from_area_id"),
        f.optional("to_area_id"),
        f.optional("from_timeframe_group_id"),
        f.optional("to_timeframe_group_id"),
        f.required("fare_product_id"),
        f.integer("rule_priority", minimum=0) or 0,
    )


def _fare_leg_join_rule(f: Fields) -> FareLegJoinRule:
    rule = FareLegJoinRule(
        f.number,
        f.required("from_network_id"),
        f.required("to_network_id"),
        f.optional("from_stop_id"),
        f.optional("to_stop_id"),
    )
    if (rule.from_stop_id is None) != (rule.to_stop_id is None):
        field = "to_stop_id" if rule.to_stop_id is None else "from_stop_id"
        f.report(field, IssueCode.MISSING_VALUE, "from_stop_id and to_stop_id go together")
    return rule


def _fare_transfer_rule(f: Fields) -> FareTransferRule:
    limit_types = {str(t.value): t.value for t in DurationLimitType}
    transfer_types = {str(t.value): t.value for t in FareTransferType}
    limit_type = f.optional_enum("duration_limit_type", limit_types)
    transfer_type = f.enum("fare_transfer_type", transfer_types, default=None)
    rule = FareTransferRule(
        f.number,
        f.optional("from_leg_group_id"),
        f.optional("to_leg_group_id"),
        f.integer("transfer_count", minimum=-1),
        f.integer("duration_limit", minimum=1),
        None if limit_type is None else DurationLimitType(limit_type),
        FareTransferType(transfer_type or 0),
        f.optional("fare_product_id"),
    )
    _check_transfer_conditions(f, rule)
    return rule


def _check_transfer_conditions(f: Fields, rule: FareTransferRule) -> None:
    """The spec's conditional presences: transfer_count only (and always) on
    a rule from a leg group to itself; duration_limit_type exactly when there
    is a duration_limit."""
    same_group = rule.from_leg_group_id == rule.to_leg_group_id
    if rule.transfer_count == 0:
        f.report("transfer_count", IssueCode.INVALID_VALUE, "transfer_count is -1 or at least 1")
    if same_group and f.optional("transfer_count") is None:
        f.report(
            "transfer_count",
            IssueCode.MISSING_VALUE,
            "transfer_count is required when from_leg_group_id equals to_leg_group_id "
            "(-1 for no limit)",
        )
    if not same_group and rule.transfer_count is not None:
        f.report(
            "transfer_count",
            IssueCode.FORBIDDEN_VALUE,
            "transfer_count is forbidden when from_leg_group_id differs from to_leg_group_id",
        )
    if rule.duration_limit is not None and f.optional("duration_limit_type") is None:
        f.report(
            "duration_limit_type",
            IssueCode.MISSING_VALUE,
            "duration_limit_type is required with a duration_limit",
        )
    if rule.duration_limit is None and f.optional("duration_limit_type") is not None:
        f.report(
            "duration_limit_type",
            IssueCode.FORBIDDEN_VALUE,
            "duration_limit_type is forbidden without a duration_limit",
        )


def _area(f: Fields) -> Area:
    return Area(f.number, f.required("area_id"), f.optional("area_name"))


def _stop_area(f: Fields) -> StopArea:
    return StopArea(f.number, f.required("area_id"), f.required("stop_id"))


def _network(f: Fields) -> Network:
    return Network(f.number, f.required("network_id"), f.optional("network_name"))


def _route_network(f: Fields) -> RouteNetwork:
    return RouteNetwork(f.number, f.required("network_id"), f.required("route_id"))


R = TypeVar("R")


class _FileSpec(NamedTuple):
    file: str
    required_columns: tuple[str, ...]
    parse_row: Callable[[Fields], object]


FILES: dict[str, _FileSpec] = {
    spec.file: spec
    for spec in (
        _FileSpec("agency.txt", ("agency_name", "agency_timezone"), _agency),
        _FileSpec("stops.txt", ("stop_id",), _stop),
        _FileSpec("routes.txt", ("route_id",), _route),
        _FileSpec("calendar.txt", ("service_id", *WEEKDAYS, "start_date", "end_date"), _calendar),
        _FileSpec("calendar_dates.txt", ("service_id", "date", "exception_type"), _calendar_date),
        _FileSpec("timeframes.txt", ("timeframe_group_id", "service_id"), _timeframe),
        _FileSpec(
            "rider_categories.txt",
            ("rider_category_id", "rider_category_name", "is_default_fare_category"),
            _rider_category,
        ),
        _FileSpec("fare_media.txt", ("fare_media_id", "fare_media_type"), _fare_medium),
        _FileSpec("fare_products.txt", ("fare_product_id", "amount", "currency"), _fare_product),
        _FileSpec("fare_leg_rules.txt", ("fare_product_id",), _fare_leg_rule),
        _FileSpec(
            "fare_leg_join_rules.txt", ("from_network_id", "to_network_id"), _fare_leg_join_rule
        ),
        _FileSpec("fare_transfer_rules.txt", ("fare_transfer_type",), _fare_transfer_rule),
        _FileSpec("areas.txt", ("area_id",), _area),
        _FileSpec("stop_areas.txt", ("area_id", "stop_id"), _stop_area),
        _FileSpec("networks.txt", ("network_id",), _network),
        _FileSpec("route_networks.txt", ("network_id", "route_id"), _route_network),
    )
}

# Without these a journey cannot be priced at all: legs name routes, and
# fares come from leg rules pointing at products.
REQUIRED_FILES = ("routes.txt", "fare_products.txt", "fare_leg_rules.txt")


def _parse_table(table: Table, issues: list[FeedIssue]) -> tuple[object, ...]:
    spec = FILES[table.file]
    problems = missing_columns(table, spec.required_columns)
    issues.extend(problems)
    if problems:
        return ()
    records = []
    for row in table.rows:
        fields = Fields(table, row, issues)
        record = spec.parse_row(fields)
        if fields.ok:
            records.append(record)
    return tuple(records)


def _typed(records: Sequence[object], kind: type[R]) -> tuple[R, ...]:
    return tuple(record for record in records if isinstance(record, kind))


def parse_feed(directory: Path) -> tuple[FareFeed, list[FeedIssue]]:
    """Reads every known file in ``directory`` into records, with the
    field-level issues found. Cross-file checks are ``_validate``'s."""
    issues: list[FeedIssue] = []
    parsed: dict[str, tuple[object, ...]] = {}
    present: set[str] = set()
    rule_priority = False
    for name in FILES:
        table, read_issues = read_table(directory, name)
        issues.extend(read_issues)
        if table is None:
            parsed[name] = ()
            continue
        present.add(name)
        parsed[name] = _parse_table(table, issues)
        rule_priority = rule_priority or (
            name == "fare_leg_rules.txt" and "rule_priority" in table.columns
        )
    for name in REQUIRED_FILES:
        if name not in present:
            issues.append(
                FeedIssue(
                    name,
                    None,
                    None,
                    IssueCode.MISSING_FILE,
                    f"{name} is required to price journeys",
                )
            )
    return _assemble(frozenset(present), rule_priority, parsed), issues


def _assemble(
    files: frozenset[str], rule_priority: bool, parsed: dict[str, tuple[object, ...]]
) -> FareFeed:
    return FareFeed(
        files=files,
        has_rule_priority=rule_priority,
        agencies=_typed(parsed["agency.txt"], Agency),
        stops=_typed(parsed["stops.txt"], Stop),
        routes=_typed(parsed["routes.txt"], Route),
        calendar=_typed(parsed["calendar.txt"], CalendarService),
        calendar_dates=_typed(parsed["calendar_dates.txt"], CalendarDate),
        timeframes=_typed(parsed["timeframes.txt"], Timeframe),
        rider_categories=_typed(parsed["rider_categories.txt"], RiderCategory),
        fare_media=_typed(parsed["fare_media.txt"], FareMedium),
        fare_products=_typed(parsed["fare_products.txt"], FareProduct),
        fare_leg_rules=_typed(parsed["fare_leg_rules.txt"], FareLegRule),
        fare_leg_join_rules=_typed(parsed["fare_leg_join_rules.txt"], FareLegJoinRule),
        fare_transfer_rules=_typed(parsed["fare_transfer_rules.txt"], FareTransferRule),
        areas=_typed(parsed["areas.txt"], Area),
        stop_areas=_typed(parsed["stop_areas.txt"], StopArea),
        networks=_typed(parsed["networks.txt"], Network),
        route_networks=_typed(parsed["route_networks.txt"], RouteNetwork),
    )
