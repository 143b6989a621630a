"""When cycles end: cut-off times of day in the clearing house's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clearing.errors import InvalidRequestError


class CycleSchedule(NamedTuple):
    """Cycles end at each of ``cut_offs`` (local times of day) in ``zone``;
    several a day are allowed (``03:00`` and ``15:00``)."""

    zone: str
    cut_offs: tuple[time, ...]

    def latest_cut_off(self, now: datetime) -> datetime:
        """The latest scheduled cut-off at or before ``now``, as a UTC instant.
        Local times are resolved with ``fold=0`` on the day a clock goes back."""
        zone = ZoneInfo(self.zone)
        today = now.astimezone(zone).date()
        candidates = (
            datetime.combine(today - timedelta(days=back), cut, tzinfo=zone).astimezone(UTC)
            for back in range(3)
            for cut in self.cut_offs
        )
        return max(instant for instant in candidates if instant <= now)


def parse_schedule(zone: str, cut_offs: Sequence[str]) -> CycleSchedule:
    """``zone`` is an IANA name (``Asia/Singapore``); each cut-off is ``HH:MM``."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidRequestError(f"unknown time zone {zone!r}", field="zone") from error
    if not cut_offs:
        raise InvalidRequestError("name at least one cut-off time", field="cut_off")
    try:
        times = tuple(sorted({time.fromisoformat(text) for text in cut_offs}))
    except ValueError as error:
        raise InvalidRequestError(f"cut-offs are HH:MM, not {cut_offs}", field="cut_off") from error
    return CycleSchedule(zone, times)
