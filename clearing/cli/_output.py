"""Printing for people (rich tables) and for machines (``--json``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print JSON for machines instead of a table.")


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        numeric = column.lower() in {"net", "gross credit", "gross debit", "transfers", "taps"}
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Prints a user-facing error and returns the Exit to raise."""
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)
