"""``farebridge fares``: check a GTFS-Fares v2 feed and quote journeys under it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import typer
from rich.markup import escape

from clearing.cli._output import JsonOption, console, fail, print_json, print_table
from clearing.fares.gtfs import (
    FeedIssue,
    GtfsFaresError,
    Severity,
    load_feed,
    parse_journey,
    quote,
    quote_json,
    validate_feed,
)

app = typer.Typer(
    help="Check GTFS-Fares v2 feeds and quote journeys under them.", no_args_is_help=True
)

FeedOption = typer.Option(..., "--feed", help="Directory holding the GTFS feed's .txt files.")


def _issue_json(issue: FeedIssue) -> dict[str, object]:
    return issue._asdict() | {"code": str(issue.code), "severity": str(issue.severity)}


def _print_issues(issues: list[FeedIssue], as_json: bool) -> None:
    if as_json:
        print_json([_issue_json(issue) for issue in issues])
        return
    if not issues:
        console.print("the feed is clean: no issues", highlight=False)
        return
    rows = [
        (i.severity, i.file, "" if i.row is None else i.row, i.field or "", i.code, i.message)
        for i in issues
    ]
    print_table(
        "Feed issues (row 1 is the first record after the header)",
        ["Severity", "File", "Row", "Field", "Code", "Message"],
        rows,
    )


@app.command("validate")
def validate(feed: Path = FeedOption, as_json: bool = JsonOption) -> None:
    """List every problem in a feed; exit 1 if any is an error, 0 otherwise."""
    try:
        issues = validate_feed(feed)
    except GtfsFaresError as error:
        raise fail(escape(str(error))) from None
    _print_issues(issues, as_json)
    if any(issue.severity is Severity.ERROR for issue in issues):
        raise typer.Exit(1)


def _read_journey(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as error:
        raise fail(escape(f"cannot read the journey file {path}: {error.strerror}")) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise fail(escape(f"the journey file {path} is not valid JSON: {error}")) from None


@app.command("quote")
def quote_command(
    feed: Path = FeedOption,
    journey: Path = typer.Option(..., "--journey", help="JSON file describing the journey."),
) -> None:
    """Print the quote for a journey as JSON (format in clearing/fares/gtfs/docs.md)."""
    data = _read_journey(journey)
    try:
        result = quote(load_feed(feed), parse_journey(data))
    except GtfsFaresError as error:
        raise fail(escape(str(error))) from None
    print_json(quote_json(result))
