"""``farebridge clearing``: close cycles and read positions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import typer

from clearing import settlement
from clearing.cli._output import JsonOption, console, print_json, print_table
from clearing.cli._serve import DatabaseOption
from clearing.settlement import CycleSummary
from clearing.storage import Database

app = typer.Typer(help="Close clearing cycles and read positions.", no_args_is_help=True)


def summary_json(summary: CycleSummary) -> dict[str, object]:
    return {
        "cycle_number": summary.cycle_number,
        "close_id": summary.close_id,
        "closed_at": summary.closed_at.isoformat(),
        "transfer_count": summary.transfer_count,
        "positions": [p._asdict() for p in summary.positions],
    }


def print_summary(summary: CycleSummary, as_json: bool) -> None:
    """Positions as a table, or as JSON for machines."""
    if as_json:
        print_json(summary_json(summary))
        return
    title = (
        f"Cycle {summary.cycle_number} closed {summary.closed_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"{summary.transfer_count} transfers (amounts in minor units)"
    )
    rows = [
        (p.participant_id, p.currency, p.gross_credit, p.gross_debit, p.net)
        for p in summary.positions
    ]
    print_table(title, ["Participant", "Currency", "Gross credit", "Gross debit", "Net"], rows)
    totals: dict[str, int] = {}
    for position in summary.positions:
        totals[position.currency] = totals.get(position.currency, 0) + position.net
    for currency, total in sorted(totals.items()):
        console.print(f"net positions in {currency} sum to {total}", highlight=False)


@app.command("close")
def close(
    database_url: str = DatabaseOption,
    close_id: str = typer.Option(
        "", help="Idempotency key; repeating a close with it answers the same cycle."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Close the open cycle and print every participant's net position per currency."""
    database = Database(database_url)
    database.migrate()
    with database.transaction() as session:
        summary = settlement.close_cycle(session, close_id or str(uuid.uuid4()), datetime.now(UTC))
    database.dispose()
    print_summary(summary, as_json)


@app.command("positions")
def positions(
    database_url: str = DatabaseOption,
    cycle: int = typer.Option(0, help="Cycle number; 0 means the latest closed cycle."),
    as_json: bool = JsonOption,
) -> None:
    """Print the positions of a closed cycle."""
    database = Database(database_url)
    with database.transaction() as session:
        summary = settlement.cycle_summary(session, cycle or None)
    database.dispose()
    print_summary(summary, as_json)
