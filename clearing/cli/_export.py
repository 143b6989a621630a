"""``farebridge export``: the ledger as plain-text accounting journals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from clearing.audit import JournalEntry, beancount_journal, hledger_journal, journal_entries
from clearing.cli._output import console
from clearing.cli._serve import DatabaseOption
from clearing.storage import Database

app = typer.Typer(help="Export the ledger for hledger or beancount.", no_args_is_help=True)

OutputOption = typer.Option(None, "--output", "-o", help="Write here instead of stdout.")


def _export(
    database_url: str, output: Path | None, render: Callable[[Sequence[JournalEntry]], str]
) -> None:
    database = Database(database_url)
    try:
        with database.transaction() as session:
            text = render(list(journal_entries(session)))
    finally:
        database.dispose()
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text)
    console.print(f"wrote {output}", highlight=False)


@app.command("hledger")
def hledger(database_url: str = DatabaseOption, output: Path | None = OutputOption) -> None:
    """Write every posted transfer as an hledger journal (check it: hledger -f FILE bal)."""
    _export(database_url, output, hledger_journal)


@app.command("beancount")
def beancount(database_url: str = DatabaseOption, output: Path | None = OutputOption) -> None:
    """Write every posted transfer as a beancount file (check it: bean-check FILE)."""
    _export(database_url, output, beancount_journal)
