"""Commands the simulators add to ``farebridge`` (through the
``farebridge.cli`` entry-point group)."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulators._demo import DemoResult, run_demo

console = Console()


def _yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def _print_result(result: DemoResult) -> None:
    console.print(
        f"{result.taps} taps: {result.accepted} accepted, {result.duplicates} duplicates, "
        f"{result.rejected} rejected",
        highlight=False,
    )
    table = Table(
        title=f"Cycle {result.cycle_number}: {result.transfer_count} fares cleared "
        "(amounts in minor units)"
    )
    for column in ("Participant", "Currency", "Gross credit", "Gross debit", "Net"):
        table.add_column(
            column, justify="left" if column in ("Participant", "Currency") else "right"
        )
    for row in result.positions:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)
    for currency, total in sorted(result.net_sums().items()):
        console.print(f"net positions in {currency} sum to {total}", highlight=False)


def demo(
    riders: int = typer.Option(50, min=1, max=100_000, help="How many riders travel."),
    seed: int = typer.Option(7, help="Seed of the city and its day; same seed, same day."),
    day: str = typer.Option(_yesterday(), help="Service day to simulate (YYYY-MM-DD)."),
    work_dir: Path | None = typer.Option(
        None, help="Keep the PKI, database and reader queues here (default: a temp folder)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Run a small city through farebridge: PKI, server, readers, riders, cycle close."""
    try:
        service_day = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(
            f"{day!r} is not a date like 2026-06-24", param_hint="--day"
        ) from None
    with tempfile.TemporaryDirectory(prefix="farebridge-demo-") as scratch:
        folder = work_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=as_json,
        ) as bars:
            tasks: dict[str, int] = {}

            def progress(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = int(bars.add_task(step, total=total))
                bars.update(tasks[step], completed=done)  # type: ignore[arg-type]

            result = run_demo(folder, riders=riders, seed=seed, day=service_day, progress=progress)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "taps": result.taps,
                    "accepted": result.accepted,
                    "duplicates": result.duplicates,
                    "rejected": result.rejected,
                    "cycle_number": result.cycle_number,
                    "transfer_count": result.transfer_count,
                    "positions": [
                        dict(
                            zip(
                                (
                                    "participant_id",
                                    "currency",
                                    "gross_credit",
                                    "gross_debit",
                                    "net",
                                ),
                                row,
                                strict=True,
                            )
                        )
                        for row in result.positions
                    ],
                    "net_sums": result.net_sums(),
                },
                indent=2,
                sort_keys=True,
            )
        )
    else:
        _print_result(result)
    if any(result.net_sums().values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
