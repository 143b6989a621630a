"""Problems found in a feed, as values: collected and reported, never raised
one at a time."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Severity(StrEnum):
    """An ``error`` makes the feed unusable for quoting; a ``warning`` marks
    data the engine can still read but that breaks a SHOULD of the spec."""

    ERROR = "error"
    WARNING = "warning"


class IssueCode(StrEnum):
    """What kind of problem an issue is. The code is the API: tools may act
    on it; the message is for people."""

    MISSING_FILE = "missing_file"
    MISSING_COLUMN = "missing_column"
    MISSING_VALUE = "missing_value"
    FORBIDDEN_VALUE = "forbidden_value"
    INVALID_VALUE = "invalid_value"
    INVALID_ENUM = "invalid_enum"
    INVALID_TIME = "invalid_time"
    INVALID_DATE = "invalid_date"
    INVALID_AMOUNT = "invalid_amount"
    UNKNOWN_CURRENCY = "unknown_currency"
    DUPLICATE_KEY = "duplicate_key"
    UNKNOWN_REFERENCE = "unknown_reference"
    EMPTY_TIMEFRAME = "empty_timeframe"
    OVERLAPPING_TIMEFRAMES = "overlapping_timeframes"
    DEFAULT_RIDER_CATEGORY = "default_rider_category"
    FORBIDDEN_FILE = "forbidden_file"
    UNREADABLE_FILE = "unreadable_file"


class FeedIssue(NamedTuple):
    """One problem in a feed.

    file: the file name, e.g. ``fare_products.txt``.
    row: the record number: 1 is the first record after the header, 0 is the
        header itself (a missing column), None is the whole file.
    field: the column at fault, or None when the problem spans the record.
    code: what kind of problem.
    message: what is wrong and what to write instead.
    severity: whether the feed can still be used.
    """

    file: str
    row: int | None
    field: str | None
    code: IssueCode
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.field is not None:
            where += f" field {self.field}"
        return f"{where}: {self.message} [{self.code}]"
