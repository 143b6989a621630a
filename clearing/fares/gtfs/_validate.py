"""Checking a feed across files: duplicate keys, references to things that
do not exist, timeframes that overlap, files the spec forbids together.

Each check is a pure function ``FareFeed -> list[FeedIssue]`` listed in
``CHECKS``, so adding one is adding a function, and every check sees only
the records that parsed cleanly (field-level problems are ``_feed``'s).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clearing.fares.gtfs._errors import FeedError, FeedNotFoundError
from clearing.fares.gtfs._feed import FILES, FareFeed, parse_feed
from clearing.fares.gtfs._issues import FeedIssue, IssueCode, Severity


class _Record(Protocol):
    @property
    def row(self) -> int: ...


T = TypeVar("T", bound=_Record)


def _duplicates(
    file: str, records: Iterable[T], key: Callable[[T], Hashable], described: str
) -> list[FeedIssue]:
    seen: dict[Hashable, int] = {}
    issues = []
    for record in records:
        first = seen.setdefault(key(record), record.row)
        if first != record.row:
            message = f"same {described} as row {first}; each must be unique"
            issues.append(FeedIssue(file, record.row, None, IssueCode.DUPLICATE_KEY, message))
    return issues


def check_duplicate_keys(feed: FareFeed) -> list[FeedIssue]:
    """The primary key of each file, as the reference defines it."""
    return [
        *_duplicates("stops.txt", feed.stops, lambda r: r.stop_id, "stop_id"),
        *_duplicates("routes.txt", feed.routes, lambda r: r.route_id, "route_id"),
        *_duplicates("calendar.txt", feed.calendar, lambda r: r.service_id, "service_id"),
        *_duplicates(
            "calendar_dates.txt",
            feed.calendar_dates,
            lambda r: (r.service_id, r.date),
            "service_id and date",
        ),
        *_duplicates("timeframes.txt", feed.timeframes, lambda r: r[1:], "timeframe"),
        *_duplicates(
            "rider_categories.txt",
            feed.rider_categories,
            lambda r: r.rider_category_id,
            "rider_category_id",
        ),
        *_duplicates("fare_media.txt", feed.fare_media, lambda r: r.fare_media_id, "fare_media_id"),
        *_duplicates(
            "fare_products.txt",
            feed.fare_products,
            lambda r: (r.fare_product_id, r.rider_category_id, r.fare_media_id),
            "fare_product_id, rider_category_id and fare_media_id",
        ),
        *_duplicates(
            "fare_leg_rules.txt",
            feed.fare_leg_rules,
            lambda r: r[2:8],
            "network, areas, timeframes and fare_product_id",
        ),
        *_duplicates(
            "fare_leg_join_rules.txt",
            feed.fare_leg_join_rules,
            lambda r: r[1:],
            "networks and stops",
        ),
        *_duplicates(
            "fare_transfer_rules.txt",
            feed.fare_transfer_rules,
            lambda r: (
                r.from_leg_group_id,
                r.to_leg_group_id,
                r.fare_product_id,
                r.transfer_count,
                r.duration_limit,
            ),
            "leg groups, fare_product_id, transfer_count and duration_limit",
        ),
        *_duplicates("areas.txt", feed.areas, lambda r: r.area_id, "area_id"),
        *_duplicates("stop_areas.txt", feed.stop_areas, lambda r: r[1:], "area_id and stop_id"),
        *_duplicates("networks.txt", feed.networks, lambda r: r.network_id, "network_id"),
        *_duplicates("route_networks.txt", feed.route_networks, lambda r: r.route_id, "route_id"),
    ]


def _references(
    file: str, rows: Iterable[tuple[int, str | None]], field: str, known: set[str], target: str
) -> list[FeedIssue]:
    return [
        FeedIssue(
            file,
            row,
            field,
            IssueCode.UNKNOWN_REFERENCE,
            f"{field} {value!r} is not defined in {target}",
        )
        for row, value in rows
        if value is not None and value not in known
    ]


def feed_network_ids(feed: FareFeed) -> set[str]:
    """Networks may be named in routes.txt or networks.txt (never both)."""
    from_routes = {route.network_id for route in feed.routes if route.network_id}
    return from_routes | {network.network_id for network in feed.networks}


def check_fare_references(feed: FareFeed) -> list[FeedIssue]:
    """Products, categories, media, networks, areas and timeframes named by
    the fare files must exist."""
    products = {p.fare_product_id for p in feed.fare_products}
    areas = {a.area_id for a in feed.areas}
    groups = {t.timeframe_group_id for t in feed.timeframes}
    rules, legs = feed.fare_leg_rules, "fare_leg_rules.txt"
    return [
        *_references(
            "fare_products.txt",
            ((p.row, p.rider_category_id) for p in feed.fare_products),
            "rider_category_id",
            {c.rider_category_id for c in feed.rider_categories},
            "rider_categories.txt",
        ),
        *_references(
            "fare_products.txt",
            ((p.row, p.fare_media_id) for p in feed.fare_products),
            "fare_media_id",
            {m.fare_media_id for m in feed.fare_media},
            "fare_media.txt",
        ),
        *_references(
            legs,
            ((r.row, r.fare_product_id) for r in rules),
            "fare_product_id",
            products,
            "fare_products.txt",
        ),
        *_references(
            legs,
            ((r.row, r.network_id) for r in rules),
            "network_id",
            feed_network_ids(feed),
            "routes.txt or networks.txt",
        ),
        *_references(
            legs, ((r.row, r.from_area_id) for r in rules), "from_area_id", areas, "areas.txt"
        ),
        *_references(
            legs, ((r.row, r.to_area_id) for r in rules), "to_area_id", areas, "areas.txt"
        ),
        *_references(
            legs,
            ((r.row, r.from_timeframe_group_id) for r in rules),
            "from_timeframe_group_id",
            groups,
            "timeframes.txt",
        ),
        *_references(
            legs,
            ((r.row, r.to_timeframe_group_id) for r in rules),
            "to_timeframe_group_id",
            groups,
            "timeframes.txt",
        ),
    ]


def check_transfer_references(feed: FareFeed) -> list[FeedIssue]:
    """Transfer rules name leg groups of fare_leg_rules.txt and products;
    join rules name networks and stops."""
    groups = {r.leg_group_id for r in feed.fare_leg_rules if r.leg_group_id}
    products = {p.fare_product_id for p in feed.fare_products}
    transfers, joins = feed.fare_transfer_rules, feed.fare_leg_join_rules
    file, join_file = "fare_transfer_rules.txt", "fare_leg_join_rules.txt"
    issues = [
        *_references(
            file,
            ((t.row, t.from_leg_group_id) for t in transfers),
            "from_leg_group_id",
            groups,
            "fare_leg_rules.txt leg_group_id",
        ),
        *_references(
            file,
            ((t.row, t.to_leg_group_id) for t in transfers),
            "to_leg_group_id",
            groups,
            "fare_leg_rules.txt leg_group_id",
        ),
        *_references(
            file,
            ((t.row, t.fare_product_id) for t in transfers),
            "fare_product_id",
            products,
            "fare_products.txt",
        ),
    ]
    networks = feed_network_ids(feed)
    for field in ("from_network_id", "to_network_id"):
        rows = ((j.row, getattr(j, field)) for j in joins)
        issues += _references(join_file, rows, field, networks, "routes.txt or networks.txt")
    if "stops.txt" in feed.files:
        stops = {s.stop_id for s in feed.stops}
        for field in ("from_stop_id", "to_stop_id"):
            rows = ((j.row, getattr(j, field)) for j in joins)
            issues += _references(join_file, rows, field, stops, "stops.txt")
    return issues


def check_base_references(feed: FareFeed) -> list[FeedIssue]:
    """Services, areas, stops, routes and agencies named across files. Stop
    references are checked only when stops.txt is part of the feed: a
    fares-only directory may leave it out."""
    services = {c.service_id for c in feed.calendar} | {d.service_id for d in feed.calendar_dates}
    issues = [
        *_references(
            "timeframes.txt",
            ((t.row, t.service_id) for t in feed.timeframes),
            "service_id",
            services,
            "calendar.txt or calendar_dates.txt",
        ),
        *_references(
            "stop_areas.txt",
            ((s.row, s.area_id) for s in feed.stop_areas),
            "area_id",
            {a.area_id for a in feed.areas},
            "areas.txt",
        ),
        *_references(
            "route_networks.txt",
            ((r.row, r.network_id) for r in feed.route_networks),
            "network_id",
            {n.network_id for n in feed.networks},
            "networks.txt",
        ),
        *_references(
            "route_networks.txt",
            ((r.row, r.route_id) for r in feed.route_networks),
            "route_id",
            {r.route_id for r in feed.routes},
            "routes.txt",
        ),
    ]
    if "stops.txt" in feed.files:
        stops = {s.stop_id for s in feed.stops}
        issues += _references(
            "stop_areas.txt",
            ((s.row, s.stop_id) for s in feed.stop_areas),
            "stop_id",
            stops,
            "stops.txt",
        )
        issues += _references(
            "stops.txt",
            ((s.row, s.parent_station) for s in feed.stops),
            "parent_station",
            stops,
            "stops.txt",
        )
    if "agency.txt" in feed.files:
        agencies = {a.agency_id for a in feed.agencies if a.agency_id}
        issues += _references(
            "routes.txt",
            ((r.row, r.agency_id) for r in feed.routes),
            "agency_id",
            agencies,
            "agency.txt",
        )
    return issues


def check_agencies(feed: FareFeed) -> list[FeedIssue]:
    """Time zones must be IANA names; with several agencies every route must
    say whose it is, or charges could not be apportioned."""
    issues = []
    for agency in feed.agencies:
        try:
            ZoneInfo(agency.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            issues.append(
                FeedIssue(
                    "agency.txt",
                    agency.row,
                    "agency_timezone",
                    IssueCode.INVALID_VALUE,
                    f"{agency.timezone!r} is not an IANA time zone",
                )
            )
    if len(feed.agencies) > 1:
        issues += [
            FeedIssue(
                "routes.txt",
                route.row,
                "agency_id",
                IssueCode.MISSING_VALUE,
                "agency_id is required when agency.txt lists several agencies",
            )
            for route in feed.routes
            if route.agency_id is None
        ]
    return issues


def check_conditional_files(feed: FareFeed) -> list[FeedIssue]:
    """Files the reference requires or forbids because of other files."""
    issues = []
    needs = {
        "stop_areas.txt": ("areas.txt",),
        "route_networks.txt": ("networks.txt",),
        "timeframes.txt": ("calendar.txt", "calendar_dates.txt"),
    }
    for present, options in needs.items():
        if present in feed.files and not feed.files.intersection(options):
            issues.append(
                FeedIssue(
                    options[0],
                    None,
                    None,
                    IssueCode.MISSING_FILE,
                    f"{' or '.join(options)} is required with {present}",
                )
            )
    if any(route.network_id for route in feed.routes):
        issues += [
            FeedIssue(
                name,
                None,
                None,
                IssueCode.FORBIDDEN_FILE,
                f"{name} is forbidden when routes.txt gives network_id; use one or the other",
            )
            for name in ("networks.txt", "route_networks.txt")
            if name in feed.files
        ]
    return issues


def check_timeframe_overlaps(feed: FareFeed) -> list[FeedIssue]:
    """ "There must not be overlapping time intervals for the same
    timeframe_group_id and service_id values" (timeframes.txt)."""
    by_key = defaultdict(list)
    for frame in feed.timeframes:
        by_key[(frame.timeframe_group_id, frame.service_id)].append(frame)
    issues = []
    for frames in by_key.values():
        ordered = sorted(frames, key=lambda frame: (frame.start, frame.row))
        reaching = ordered[0]  # the frame so far whose end reaches furthest
        for later in ordered[1:]:
            if later.start < reaching.end:
                issues.append(
                    FeedIssue(
                        "timeframes.txt",
                        later.row,
                        "start_time",
                        IssueCode.OVERLAPPING_TIMEFRAMES,
                        f"overlaps row {reaching.row} of the same group and service",
                    )
                )
            if later.end > reaching.end:
                reaching = later
    return issues


def check_default_categories(feed: FareFeed) -> list[FeedIssue]:
    """When several rider categories are eligible for one product, exactly one
    of them must be the default (rider_categories.txt)."""
    defaults = {c.rider_category_id for c in feed.rider_categories if c.is_default}
    by_product: dict[str, dict[str, int]] = defaultdict(dict)
    for product in feed.fare_products:
        if product.rider_category_id is not None:
            by_product[product.fare_product_id].setdefault(product.rider_category_id, product.row)
    issues = []
    for product_id, categories in by_product.items():
        count = len(defaults.intersection(categories))
        if len(categories) > 1 and count != 1:
            issues.append(
                FeedIssue(
                    "fare_products.txt",
                    min(categories.values()),
                    "rider_category_id",
                    IssueCode.DEFAULT_RIDER_CATEGORY,
                    f"{product_id} has {len(categories)} rider categories and "
                    f"{count} of them are default; exactly one must be",
                )
            )
    return issues


CHECKS: Sequence[Callable[[FareFeed], list[FeedIssue]]] = (
    check_duplicate_keys,
    check_fare_references,
    check_transfer_references,
    check_base_references,
    check_agencies,
    check_conditional_files,
    check_timeframe_overlaps,
    check_default_categories,
)

_FILE_ORDER = {name: index for index, name in enumerate(FILES)}


def _order(issue: FeedIssue) -> tuple[int, int, str]:
    return (_FILE_ORDER.get(issue.file, len(_FILE_ORDER)), issue.row or 0, issue.field or "")


def _parse_and_check(directory: Path) -> tuple[FareFeed, list[FeedIssue]]:
    if not directory.is_dir():
        raise FeedNotFoundError(f"{directory} is not a directory holding a GTFS feed")
    feed, issues = parse_feed(directory)
    for check in CHECKS:
        issues.extend(check(feed))
    return feed, sorted(issues, key=_order)


def validate_feed(directory: Path) -> list[FeedIssue]:
    """Every problem in the feed at ``directory``, errors and warnings, in file
    and row order. An empty list means the feed is clean."""
    return _parse_and_check(Path(directory))[1]


def load_feed(directory: Path) -> FareFeed:
    """The feed at ``directory``, ready to quote with. Raises ``FeedError``
    carrying every issue when any of them is an error; warnings alone do not
    stop loading."""
    feed, issues = _parse_and_check(Path(directory))
    if any(issue.severity is Severity.ERROR for issue in issues):
        raise FeedError(issues)
    return feed
