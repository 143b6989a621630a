"""The errors this package raises on purpose."""

from __future__ import annotations

from collections.abc import Sequence

from clearing.fares.gtfs import FeedIssue, GtfsFaresError, Severity


class TariffError(GtfsFaresError):
    """The tariff folder cannot be priced with. ``issues`` lists every
    problem found, each with file, row (None for TOML) and field (a dotted
    TOML key or a CSV column); fix the errors and load again."""

    def __init__(self, issues: Sequence[FeedIssue]) -> None:
        self.issues = tuple(issues)
        errors = [issue for issue in self.issues if issue.severity is Severity.ERROR]
        summary = f"{len(errors)} error(s) in the tariff"
        super().__init__(f"{summary}; first: {errors[0]}" if errors else summary)
