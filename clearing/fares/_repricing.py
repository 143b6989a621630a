"""Posting a rider's charges as the difference from what was posted before.

When taps arrive — on time, hours late from an offline reader, or twice —
every capping period they touch is priced again, from all of the rider's
taps in it (``price_period``, a pure function). What the ledger receives is
only the difference, per charge and operator, from the sum already posted
for that period (``fare_postings``). So the final ledger depends on the set
of taps, never on the order in which they arrived or on how often.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.orm import Session

from clearing.fares.period import PeriodCharges, RiderTap, Tariff, price_period, service_day
from clearing.ledger import AccountCode, AccountRef, Posting, transfer_id_for
from clearing.settlement import (
    FxRate,
    FxRates,
    bridge,
    clearing_house_id,
    convert,
    post_chains,
    rates_in_force,
)
from clearing.storage._bulk import insert_missing
from clearing.storage._runs import TAPS_BY_MEDIUM, key_among
from clearing.storage.models import (
    DeviceRow,
    FareChargeTapRow,
    FarePostingRow,
    MediumRow,
    ParticipantRow,
    TapRow,
    UnpricedTapRow,
    VirtualCardRow,
    WalletAccountRow,
)
from clearing.values import Currency, Direction, Mode, Money, ParticipantId, Tap

PeriodKey = tuple[str, str]  # (medium token, period name such as "day:2026-11-21")


class Period(NamedTuple):
    """A capping period: its name and the UTC instants it spans, [start, end)."""

    name: str
    start: datetime
    end: datetime


def period_of(tariff: Tariff, at: datetime) -> Period:
    """The widest capping period of the tariff (the week when a weekly cap
    exists, else the service day) that ``at`` belongs to."""
    day = service_day(tariff, at)
    weekly = any(cap.period == "week" for cap in tariff.caps)
    first = day - timedelta(days=day.weekday()) if weekly else day
    length = 7 if weekly else 1
    return Period(
        f"{'week' if weekly else 'day'}:{first.isoformat()}",
        _day_start(tariff, first),
        _day_start(tariff, first + timedelta(days=length)),
    )


def _day_start(tariff: Tariff, day: date) -> datetime:
    local = datetime.combine(day, time(0), tzinfo=tariff.zone)
    return (local + timedelta(seconds=tariff.service_day_start_s)).astimezone(UTC)


class _Context(NamedTuple):
    taps: Mapping[PeriodKey, list[RiderTap]]
    posted: Mapping[PeriodKey, dict[tuple[str, str], int]]
    issuers: Mapping[str, ParticipantId]
    currencies: Mapping[ParticipantId, Currency]
    categories: Mapping[str, str]
    rates: FxRates


_TOKENS_PER_QUERY = 500  # each token is bound three times (see key_among)


def _taps_between(
    session: Session, tokens: Sequence[str], low: datetime, high: datetime
) -> Iterable[tuple[TapRow, str, str]]:
    """The taps of ``tokens`` in [low, high), with their device's stop and mode."""
    for start in range(0, len(tokens), _TOKENS_PER_QUERY):
        chunk = tokens[start : start + _TOKENS_PER_QUERY]
        yield from session.execute(
            select(TapRow, DeviceRow.stop_id, DeviceRow.mode)
            .join(DeviceRow, DeviceRow.device_id == TapRow.device_id)
            .where(
                key_among(session, TAPS_BY_MEDIUM, chunk),
                TapRow.tapped_at >= low,
                TapRow.tapped_at < high,
            )
        )


class TariffPricer:
    """Re-prices the capping periods that new taps touch and posts the change."""

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff

    def reprice(self, session: Session, new_taps: Sequence[Tap], now: datetime) -> None:
        periods = {(t.medium_token, period_of(self.tariff, t.tapped_at)) for t in new_taps}
        if not periods:
            return
        context = self._load(session, periods)
        planned: list[tuple[str, str, Posting]] = []
        chains: list[list[Posting]] = []
        for token, period in sorted(periods):
            changes = self._period_postings(session, context, token, period, now)
            planned += [(token, period.name, posting) for posting, _ in changes]
            chains += [chain for _, chain in changes]
        post_chains(session, chains, now)
        _record_postings(session, planned, now)

    def settle(self, session: Session, now: datetime) -> int:
        """Re-prices the periods of recent taps, so that a journey whose
        tap-off can no longer come is charged as incomplete even if the
        rider never taps again. Run before a cycle closes; answers how many
        periods it looked at."""
        longest = max((rule.max_trip_s for rule in self.tariff.modes.values()), default=0)
        since = now - timedelta(days=1, seconds=longest)
        recent = session.execute(
            select(TapRow.medium_token, TapRow.tapped_at).where(TapRow.tapped_at >= since)
        ).all()
        sample = {
            (token, period_of(self.tariff, at).name): Tap("", "", "", 0, at, token, Direction.ON)
            for token, at in recent
        }
        self.reprice(session, list(sample.values()), now)
        return len(sample)

    def _load(self, session: Session, periods: set[tuple[str, Period]]) -> _Context:
        tokens = sorted({token for token, _ in periods})
        low = min(p.start for _, p in periods)
        high = max(p.end for _, p in periods)
        wanted = {(token, p.name) for token, p in periods}
        taps: dict[PeriodKey, list[RiderTap]] = defaultdict(list)
        for tap, stop_id, mode in _taps_between(session, tokens, low, high):
            key = (tap.medium_token, period_of(self.tariff, tap.tapped_at).name)
            if key in wanted:
                direction = Direction(tap.direction)
                taps[key].append(
                    RiderTap(
                        tap.tap_id, tap.tapped_at, direction, tap.operator_id, Mode(mode), stop_id
                    )
                )
        issuers, currencies = _payers(session, tokens)
        return _Context(
            taps, _posted(session, wanted), issuers, currencies, _categories(session, tokens),
            rates_in_force(session),
        )  # fmt: skip

    def _period_postings(
        self, session: Session, context: _Context, token: str, period: Period, now: datetime
    ) -> list[tuple[Posting, list[Posting]]]:
        """Per change: the posting in the fare's currency (what the period
        records) and the chain that carries it (through FX when the rider's
        funds are in another currency)."""
        key = (token, period.name)
        taps = context.taps.get(key, [])
        issuer = context.issuers.get(token)
        currency = self.tariff.currency
        funds = context.currencies[issuer] if issuer is not None else currency
        rate = context.rates.get((currency, funds)) if funds != currency else None
        if issuer is None or (funds != currency and rate is None):
            reason = "unknown_medium" if issuer is None else "currency_mismatch"
            detail = f"{token}: {reason}"
            if issuer is not None:
                detail += f" (fares in {currency}, funds in {funds}; no FX rate is published)"
            _unpriced(session, [t.tap_id for t in taps], reason, detail)
            return []
        charges = price_period(taps, self.tariff, context.categories.get(token), now)
        _record_charges(session, charges)
        for unknown in charges.unknown:
            _unpriced(session, list(unknown.tap_ids), "no_fare", unknown.reason)
        desired = {
            (charge.charge_id, share.operator_id): share.minor_units
            for charge in charges.charges
            for share in charge.shares
        }
        posted = context.posted.get(key, {})
        house = clearing_house_id(session) if rate is not None else ""
        postings = []
        for charge_id, operator in sorted(desired.keys() | posted.keys()):
            before, after = (
                posted.get((charge_id, operator), 0),
                desired.get((charge_id, operator), 0),
            )
            if after != before:
                posting = _posting(
                    token, issuer, operator, period=period.name, charge_id=charge_id,
                    before=before, after=after, currency=currency,
                )  # fmt: skip
                postings.append((posting, _carried(posting, funds, rate, house)))
        return postings


def _carried(posting: Posting, funds: Currency, rate: FxRate | None, house: str) -> list[Posting]:
    """The chain that moves ``posting``: itself, or, for funds in another
    currency, the FX pair at the rate in force."""
    if rate is None:
        return [posting]
    moved = posting._replace(
        debit=posting.debit._replace(currency=funds)
        if posting.debit.code is AccountCode.RIDER_FUNDS
        else posting.debit,
        credit=posting.credit._replace(currency=funds)
        if posting.credit.code is AccountCode.RIDER_FUNDS
        else posting.credit,
    )
    return bridge(moved, convert(posting.amount, rate), house)


def _posting(
    token: str, issuer: str, operator: str, *, period: str, charge_id: str,
    before: int, after: int, currency: Currency,
) -> Posting:  # fmt: skip
    """A positive change moves money from the rider to the operator; a
    negative one (a cap reached, a tap-off that shortens a journey) back."""
    rider = AccountRef(issuer, AccountCode.RIDER_FUNDS, currency, token)
    revenue = AccountRef(operator, AccountCode.FARE_REVENUE, currency)
    delta = after - before
    event = f"{token}|{period}|{charge_id}|{operator}|{before}>{after}"
    return Posting(
        transfer_id=transfer_id_for("fare", event),
        debit=rider if delta > 0 else revenue,
        credit=revenue if delta > 0 else rider,
        amount=Money(abs(delta), currency),
        code="fare" if delta > 0 else "fare_adjustment",
        user_data=charge_id,
    )


def _posted(session: Session, keys: set[PeriodKey]) -> dict[PeriodKey, dict[tuple[str, str], int]]:
    rows = session.execute(
        select(
            FarePostingRow.medium_token, FarePostingRow.period, FarePostingRow.charge_id,
            FarePostingRow.operator_id, func.sum(FarePostingRow.amount),
        )
        .where(tuple_(FarePostingRow.medium_token, FarePostingRow.period).in_(sorted(keys)))
        .group_by(
            FarePostingRow.medium_token, FarePostingRow.period, FarePostingRow.charge_id,
            FarePostingRow.operator_id,
        )
    )  # fmt: skip
    posted: dict[PeriodKey, dict[tuple[str, str], int]] = defaultdict(dict)
    for token, period, charge_id, operator, total in rows:
        posted[(token, period)][(charge_id, operator)] = int(total)
    return posted


def _payers(
    session: Session, tokens: Sequence[str]
) -> tuple[dict[str, ParticipantId], dict[ParticipantId, Currency]]:
    issuers = dict(
        session.execute(
            select(MediumRow.medium_token, MediumRow.issuer_id).where(
                MediumRow.medium_token.in_(tokens)
            )
        ).all()
    )
    currencies = dict(
        session.execute(
            select(ParticipantRow.participant_id, ParticipantRow.settlement_currency).where(
                ParticipantRow.participant_id.in_(set(issuers.values()))
            )
        ).all()
    )
    return issuers, currencies


def _categories(session: Session, tokens: Sequence[str]) -> dict[str, str]:
    """The rider category behind each token: a wallet account's own, or the
    account's that a virtual card belongs to (concessions follow the rider)."""
    accounts = session.execute(
        select(WalletAccountRow.medium_token, WalletAccountRow.rider_category).where(
            WalletAccountRow.medium_token.in_(tokens)
        )
    ).all()
    cards = session.execute(
        select(VirtualCardRow.medium_token, WalletAccountRow.rider_category)
        .join(WalletAccountRow, WalletAccountRow.account_id == VirtualCardRow.account_id)
        .where(VirtualCardRow.medium_token.in_(tokens))
    ).all()
    return dict(accounts) | dict(cards)


def _unpriced(session: Session, tap_ids: Iterable[str], reason: str, detail: str) -> None:
    rows = [{"tap_id": t, "reason": reason, "detail": detail[:400]} for t in sorted(set(tap_ids))]
    insert_missing(session, UnpricedTapRow, rows)


def _record_charges(session: Session, charges: PeriodCharges) -> None:
    """Which taps each charge covers, so every charge traces to its taps."""
    rows = [
        {"charge_id": charge.charge_id, "tap_id": tap_id}
        for charge in charges.charges
        for tap_id in charge.tap_ids
    ]
    insert_missing(session, FareChargeTapRow, rows)


def _record_postings(
    session: Session, planned: Sequence[tuple[str, str, Posting]], now: datetime
) -> None:
    """What each period has received so far, per charge and operator: the
    'before' of the next re-pricing."""
    if not planned:
        return
    session.execute(
        insert(FarePostingRow),
        [
            {
                "transfer_id": p.transfer_id,
                "medium_token": token,
                "period": period,
                "charge_id": p.user_data,
                "operator_id": p.credit.participant_id
                if p.code == "fare"
                else p.debit.participant_id,
                "amount": p.amount.minor_units if p.code == "fare" else -p.amount.minor_units,
                "currency": p.amount.currency,
                "posted_at": now,
            }
            for token, period, p in planned
        ],
    )
