"""``farebridge clearing``: close cycles and read positions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import typer

from clearing import settlement
from clearing.cli._output import JsonOption, console, print_json, print_table
from clearing.cli._serve import DatabaseOption
from clearing.ledger import LedgerLog, SignedCheckpoint
from clearing.pki import PkiLayout, load_signing_key
from clearing.server import ledger_origin
from clearing.settlement import CycleSummary
from clearing.storage import Database

app = typer.Typer(help="Close clearing cycles and read positions.", no_args_is_help=True)


def summary_json(summary: CycleSummary, head: SignedCheckpoint | None = None) -> dict[str, object]:
    data: dict[str, object] = {
        "cycle_number": summary.cycle_number,
        "close_id": summary.close_id,
        "closed_at": summary.closed_at.isoformat(),
        "transfer_count": summary.transfer_count,
        "positions": [p._asdict() for p in summary.positions],
    }
    if head is not None:
        data["checkpoint"] = {
            "tree_size": head.tree_size,
            "root_hash": head.root_hash.hex(),
            "signed_note": head.signed_note,
        }
    return data


def print_summary(
    summary: CycleSummary, as_json: bool, head: SignedCheckpoint | None = None
) -> None:
    """Positions as a table, or as JSON for machines."""
    if as_json:
        print_json(summary_json(summary, head))
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
    if head is not None:
        console.print(
            f"ledger checkpoint: tree size {head.tree_size}, root {head.root_hash.hex()}",
            highlight=False,
        )


@app.command("close")
def close(
    database_url: str = DatabaseOption,
    pki_dir: Path = typer.Option(
        Path("pki"), "--pki", help="PKI folder holding the clearing house's signing key."
    ),
    clearing_house: str = typer.Option("clearing-house", help="The clearing house's id."),
    close_id: str = typer.Option(
        "", help="Idempotency key; repeating a close with it answers the same cycle."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Close the open cycle, sign a ledger checkpoint, print the net positions."""
    signing_key = load_signing_key(PkiLayout(pki_dir))
    database = Database(database_url)
    try:
        database.migrate()
        now = datetime.now(UTC)
        with database.transaction() as session:
            summary = settlement.close_cycle(session, close_id or str(uuid.uuid4()), now)
        log = LedgerLog(database, ledger_origin(clearing_house), signing_key)
        head = log.checkpoint(now)
    finally:
        database.dispose()
    print_summary(summary, as_json, head)


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
