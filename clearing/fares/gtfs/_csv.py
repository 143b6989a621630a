"""Reading GTFS CSV files into rows, and reading typed fields out of rows
while collecting every problem as a ``FeedIssue``.

GTFS files are UTF-8 CSV with a header; a byte order mark is allowed and
surrounding whitespace in a value is not significant. A record's number is
its position after the header, so the first record is row 1.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from clearing.fares.gtfs._issues import FeedIssue, IssueCode, Severity

_TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")
_DATE = re.compile(r"^\d{8}$")


class Row(NamedTuple):
    """One record: its number (1 = first after the header) and its values,
    stripped, keyed by column."""

    number: int
    values: Mapping[str, str]


class Table(NamedTuple):
    """A file as read: its name, the columns its header declares, its rows."""

    file: str
    columns: frozenset[str]
    rows: tuple[Row, ...]


def read_table(directory: Path, file: str) -> tuple[Table | None, list[FeedIssue]]:
    """Reads ``file`` from ``directory``; None when the file is absent."""
    path = directory / file
    if not path.is_file():
        return None, []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            records = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        issue = FeedIssue(file, None, None, IssueCode.UNREADABLE_FILE, f"not UTF-8 CSV: {error}")
        return None, [issue]
    if not records:
        return Table(file, frozenset(), ()), []
    header = [name.strip() for name in records[0]]
    rows = tuple(
        Row(number, dict(zip(header, (value.strip() for value in record), strict=False)))
        for number, record in enumerate(records[1:], start=1)
        if any(value.strip() for value in record)
    )
    return Table(file, frozenset(header), rows), []


def missing_columns(table: Table, required: Iterable[str]) -> list[FeedIssue]:
    """One issue per required column the header lacks (reported at row 0)."""
    return [
        FeedIssue(
            table.file, 0, name, IssueCode.MISSING_COLUMN, f"required column {name} is missing"
        )
        for name in required
        if name not in table.columns
    ]


def parse_gtfs_time(text: str) -> int | None:
    """Seconds since "noon minus 12h" for ``H:MM:SS`` or ``HH:MM:SS``; hours
    may pass 24 (a service day can run past midnight). None if malformed."""
    match = _TIME.match(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(part) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


class Fields:
    """Typed access to one row's values. Every problem is appended to
    ``issues``; ``ok`` stays True only if none was found, so a caller keeps
    the record only when all of its fields made sense."""

    def __init__(self, table: Table, row: Row, issues: list[FeedIssue]) -> None:
        self._table, self._row, self._issues = table, row, issues
        self.ok = True

    @property
    def number(self) -> int:
        return self._row.number

    def report(
        self, field: str | None, code: IssueCode, message: str, severity: Severity = Severity.ERROR
    ) -> None:
        """Records a problem with this row; errors make the row unusable."""
        self._issues.append(
            FeedIssue(self._table.file, self._row.number, field, code, message, severity)
        )
        if severity is Severity.ERROR:
            self.ok = False

    def optional(self, name: str) -> str | None:
        """The value, or None when the column is absent or the value empty."""
        return self._row.values.get(name) or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            self.report(name, IssueCode.MISSING_VALUE, f"{name} is required")
            return ""
        return value

    def enum(self, name: str, options: Mapping[str, int], *, default: int | None) -> int | None:
        """An enumerated value; ``default`` is what an empty value means (None:
        the field is required)."""
        value = self.optional(name)
        if value is None:
            if default is None:
                self.report(name, IssueCode.MISSING_VALUE, f"{name} is required")
            return default
        if value not in options:
            allowed = ", ".join(options)
            self.report(
                name, IssueCode.INVALID_ENUM, f"{name} must be one of {allowed}, not {value!r}"
            )
            return default
        return options[value]

    def optional_enum(self, name: str, options: Mapping[str, int]) -> int | None:
        """An enumerated value that may be left empty (None)."""
        if self.optional(name) is None:
            return None
        return self.enum(name, options, default=None)

    def integer(self, name: str, *, minimum: int | None = None) -> int | None:
        value = self.optional(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d+", value) or (minimum is not None and int(value) < minimum):
            bound = "" if minimum is None else f" of at least {minimum}"
            self.report(
                name, IssueCode.INVALID_VALUE, f"{name} must be an integer{bound}, not {value!r}"
            )
            return None
        return int(value)

    def time(self, name: str, *, maximum: int | None = None) -> int | None:
        value = self.optional(name)
        if value is None:
            return None
        seconds = parse_gtfs_time(value)
        if seconds is None or (maximum is not None and seconds > maximum):
            self.report(
                name, IssueCode.INVALID_TIME, f"{name} {value!r} is not a valid HH:MM:SS time"
            )
            return None
        return seconds

    def date(self, name: str) -> date | None:
        value = self.required(name)
        if not value:
            return None
        try:
            if not _DATE.match(value):
                raise ValueError(value)
            return datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            self.report(
                name, IssueCode.INVALID_DATE, f"{name} must be a YYYYMMDD date, not {value!r}"
            )
            return None
