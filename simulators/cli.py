"""Commands the simulators add to ``farebridge`` (through the
``farebridge.cli`` entry-point group): ``simulate`` and its short form
``demo``."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulators._run import SimulationResult, SimulationSettings, simulate

console = Console()


def _yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def _summary(result: SimulationResult) -> dict[str, object]:
    tally, plan = result.tally, result.plan
    return {
        "riders": result.settings.riders,
        "day": plan.day.isoformat(),
        "seed": result.settings.seed,
        "faults": result.settings.faults,
        "readers": result.readers,
        "offline_readers": result.offline_readers,
        "taps": tally.taps,
        "accepted": tally.accepted,
        "duplicates": tally.duplicates,
        "rejected": tally.rejected,
        "scans_to_pay": tally.scans,
        "journeys": len(tally.journeys - {0}),
        "legs_planned": plan.legs,
        "transfers_planned": plan.transfers,
        "forgotten_tap_offs": plan.forgotten_tap_offs,
        "top_ups": tally.top_ups,
        "top_up_minor": tally.top_up_minor,
        "refused_at_gate": {
            "blocked": tally.refused_blocked,
            "insufficient_balance": tally.refused_balance,
            "ride_code": tally.refused_ride_code,
        },
        "lost_card": plan.lost_card,
        "batches": tally.batches,
        "upload_attempts": tally.upload_attempts,
        "replayed_batches": tally.replayed_batches,
        "server_restarts": result.server_restarts,
        "dropped_connections": result.dropped_connections,
        "cycle_number": result.cycle_number,
        "revenue_minor": result.books.revenue,
        "positions": [
            dict(
                zip(
                    ("participant_id", "currency", "gross_credit", "gross_debit", "net"),
                    row,
                    strict=True,
                )
            )
            for row in result.positions
        ],
        "net_sums": result.net_sums(),
        "checkpoint": {"tree_size": result.checkpoint_size, "root_hash": result.checkpoint_root},
        "ledger_digest": result.books.ledger_digest,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in result.checks],
        "passed": result.passed,
        "seconds": round(result.seconds, 1),
    }


def _print(result: SimulationResult) -> None:
    summary = _summary(result)
    console.print(
        f"{summary['riders']} riders on {summary['day']} (seed {summary['seed']}"
        f"{', with faults' if result.settings.faults else ''}): {summary['taps']} taps at "
        f"{summary['readers']} readers and {summary['scans_to_pay']} scans to pay, "
        f"{summary['journeys']} journeys, {summary['top_ups']} top-ups, "
        f"in {summary['seconds']} s",
        highlight=False,
    )
    tally = result.tally
    console.print(
        f"clearing answered {tally.accepted} accepted, {tally.duplicates} duplicates, "
        f"{tally.rejected} rejected in {tally.batches} batches; refused at the gate: "
        f"{tally.refused_blocked} blocked, {tally.refused_balance} empty purses, "
        f"{tally.refused_ride_code} ride codes",
        highlight=False,
    )
    if result.settings.faults:
        console.print(
            f"faults: {result.server_restarts} server kill and restart, "
            f"{result.dropped_connections} connections cut, "
            f"{tally.replayed_batches} batches replayed out of order",
            highlight=False,
        )
    table = Table(title=f"Cycle {result.cycle_number} (amounts in minor units, EUR)")
    for column in ("Participant", "Fare revenue", "Gross credit", "Gross debit", "Net"):
        table.add_column(column, justify="left" if column == "Participant" else "right")
    for participant, _currency, credit, debit, net in result.positions:
        revenue = result.books.revenue.get(participant)
        table.add_row(participant, "" if revenue is None else str(revenue),
                      str(credit), str(debit), str(net))  # fmt: skip
    console.print(table)
    console.print(
        f"checkpoint: {result.checkpoint_size} transfers, root {result.checkpoint_root}",
        highlight=False,
    )
    checks = Table(title="Checks")
    for column in ("Check", "Result", "Detail"):
        checks.add_column(column)
    for check in result.checks:
        checks.add_row(check.name, "pass" if check.passed else "FAIL", check.detail)
    console.print(checks)


def _run(settings: SimulationSettings, as_json: bool) -> SimulationResult:
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

        return simulate(settings, progress)


def simulate_command(
    riders: int = typer.Option(1500, min=1, max=1_000_000, help="How many riders travel."),
    day: str = typer.Option(_yesterday(), help="Service day to simulate (YYYY-MM-DD)."),
    seed: int = typer.Option(7, help="Seed of the city and its day; same seed, same day."),
    work_dir: Path | None = typer.Option(
        None, help="Keep the PKI, database, reader queues and logs here (default: a temp folder)."
    ),
    faults: bool = typer.Option(
        False,
        "--faults",
        help="Kill the server mid-day, cut connections before acknowledgements, replay "
        "batches twice out of order and skew reader clocks; the books must not change.",
    ),
    threads: int = typer.Option(16, min=1, max=256, help="Readers uploading at once."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Drive a whole city day through farebridge and check it; exit 1 if a check fails.

    Readers, wallets and riders go through the real services over mTLS; then
    the cycle closes, the ledger is audited and every reader log reconciled.
    """
    try:
        service_day = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(
            f"{day!r} is not a date like 2026-06-24", param_hint="--day"
        ) from None
    with tempfile.TemporaryDirectory(prefix="farebridge-simulate-") as scratch:
        folder = work_dir or Path(scratch)
        settings = SimulationSettings(riders, service_day, seed, folder, faults, threads)
        result = _run(settings, as_json)
    if as_json:
        typer.echo(json.dumps(_summary(result), indent=2, sort_keys=True))
    else:
        _print(result)
    if not result.passed:
        raise typer.Exit(1)


def demo(
    riders: int = typer.Option(1500, min=1, max=1_000_000, help="How many riders travel."),
    day: str = typer.Option(_yesterday(), help="Service day to simulate (YYYY-MM-DD)."),
    seed: int = typer.Option(7, help="Seed of the city and its day; same seed, same day."),
    work_dir: Path | None = typer.Option(None, help="Keep the files here (default: temp)."),
    faults: bool = typer.Option(False, "--faults", help="Inject faults (see simulate)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """The README's demo: simulate with its defaults (a minute or so)."""
    simulate_command(riders, day, seed, work_dir, faults, 16, as_json)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
    app.command("demo")(demo)
