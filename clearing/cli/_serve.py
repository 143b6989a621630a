"""``farebridge serve`` and ``farebridge migrate``."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import typer
from sqlalchemy.engine import make_url

from clearing.cli._output import console
from clearing.server import ServerSettings, start_server, tune_collector_for_serving
from clearing.settlement import parse_schedule
from clearing.storage import DEFAULT_DATABASE_URL, Database

DatabaseOption = typer.Option(
    DEFAULT_DATABASE_URL,
    "--db",
    envvar="FAREBRIDGE_DATABASE_URL",
    help="SQLite file (sqlite:///path) or PostgreSQL URL (postgresql://...).",
)


def serve(
    database_url: str = DatabaseOption,
    pki_dir: Path = typer.Option(
        Path("pki"), "--pki", help="Folder made by 'farebridge pki init'."
    ),
    listen: str = typer.Option("127.0.0.1:50051", help="host:port to listen on; port 0 picks one."),
    clearing_house: str = typer.Option(
        "clearing-house", help="Certificate name of the clearing house, admitted at start."
    ),
    currency: str = typer.Option("SGD", help="The clearing house's settlement currency."),
    tariff: Path | None = typer.Option(
        None,
        help="Tariff folder (GTFS-Fares v2 + farebridge.toml) for period pricing; "
        "without it, flat fares set through ClearingService.",
    ),
    cut_off: list[str] = typer.Option(
        [],
        "--cut-off",
        help="Local time of day (HH:MM) at which a clearing cycle ends; repeat for several "
        "cycles a day. A close that names no cut-off ends at the latest scheduled one.",
    ),
    zone: str = typer.Option("UTC", help="Time zone of --cut-off times, e.g. Asia/Singapore."),
    max_group_taps: int | None = typer.Option(
        None,
        min=1,
        show_default=False,
        help="Reader batches waiting for the database share one transaction, up to this many "
        "taps; 1 commits each batch alone. Default: 4000 on SQLite, 1 on PostgreSQL.",
    ),
) -> None:
    """Run the gRPC server (mTLS, health checking and reflection) until interrupted."""
    if not (pki_dir / "server.pem").exists():
        raise typer.BadParameter(f"no server certificate in {pki_dir}; run 'farebridge pki init'")
    running = start_server(
        ServerSettings(
            database_url=database_url,
            pki_dir=pki_dir,
            listen=listen,
            clearing_house_id=clearing_house,
            currency=currency,
            tariff_dir=tariff,
            cycle_schedule=parse_schedule(zone, cut_off) if cut_off else None,
            max_group_taps=max_group_taps,
        )
    )
    tune_collector_for_serving()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        running.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # Tests and supervisors read this line to learn the port.
    typer.echo(f"farebridge serving on port {running.port}")
    sys.stdout.flush()
    running.wait()


def migrate(database_url: str = DatabaseOption) -> None:
    """Create or upgrade the database schema to the newest migration."""
    database = Database(database_url)
    database.migrate()
    database.dispose()
    shown = make_url(database.url).render_as_string(hide_password=True)
    console.print(f"schema is current in {shown}", highlight=False)
