"""``farebridge cards``: what the stored-value cards' own records say."""

from __future__ import annotations

import typer

from clearing.cli._output import JsonOption, console, print_json, print_table
from clearing.cli._serve import DatabaseOption
from clearing.media import card_continuity
from clearing.storage import Database

app = typer.Typer(help="Check stored-value cards' debit records.", no_args_is_help=True)


@app.command("report")
def report(database_url: str = DatabaseOption, as_json: bool = JsonOption) -> None:
    """Counter gaps, repeats, conflicts and balance breaks per card; exit 1 if any."""
    database = Database(database_url)
    try:
        with database.transaction() as session:
            found = card_continuity(session)
    finally:
        database.dispose()
    rows = (
        [("gap", g.card_id, f"{g.first_missing}-{g.last_missing}", "counters never arrived")
         for g in found.gaps]
        + [("repeat", d.card_id, str(d.counter), "the same debit twice") for d in found.duplicates]
        + [("conflict", c.card_id, str(c.counter), f"{len(c.versions)} different debits")
           for c in found.conflicts]
        + [("balance", b.card_id, str(b.counter),
            f"expected {b.expected_balance_after_minor}, card says {b.balance_after_minor}")
           for b in found.balance_breaks]
    )  # fmt: skip
    if as_json:
        print_json(
            {
                "clean": found.clean,
                "debits": len(found.sequenced),
                "findings": [
                    {"kind": kind, "card_id": card, "counters": counters, "detail": detail}
                    for kind, card, counters, detail in rows
                ],
            }
        )
    elif rows:
        print_table("Card continuity findings", ["Kind", "Card", "Counters", "Detail"], rows)
    else:
        console.print(
            f"{len(found.sequenced)} card debits, every chain continuous", highlight=False
        )
    if not found.clean:
        raise typer.Exit(1)
