"""The errors this package raises. One root; each subclass says what went
wrong and what the caller can do about it.

Problems in a feed's *data* are collected as ``FeedIssue`` values by
``validate_feed``; ``FeedError`` only wraps them when a caller asks for a
feed that cannot be priced with (``load_feed``).
"""

from __future__ import annotations

from collections.abc import Sequence

from clearing.errors import FarebridgeError
from clearing.fares.gtfs._issues import FeedIssue, Severity


class GtfsFaresError(FarebridgeError):
    """Root of every error the GTFS-Fares v2 engine raises on purpose."""


class FeedError(GtfsFaresError):
    """The feed directory has errors that make its fares unusable. ``issues``
    lists every problem found (errors and warnings); fix the errors, listed
    with file, row and field, and load again. ``farebridge fares validate``
    prints the same list."""

    def __init__(self, issues: Sequence[FeedIssue]) -> None:
        self.issues = tuple(issues)
        errors = [issue for issue in self.issues if issue.severity is Severity.ERROR]
        first = errors[0] if errors else None
        summary = f"{len(errors)} error(s) in the fare feed"
        super().__init__(f"{summary}; first: {first}" if first else summary)


class JourneyError(GtfsFaresError):
    """The journey to quote is malformed or names something the feed does not
    define (a route, stop, rider category or fare medium). ``field`` is the
    JSON path of the offending value; correct it and ask again."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class FeedNotFoundError(GtfsFaresError):
    """The feed path is not a directory. Unzip the GTFS feed and pass the
    directory holding its .txt files."""
