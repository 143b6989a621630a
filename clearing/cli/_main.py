"""Entry point: the root command, its sub-commands and plugin commands.

Other farebridge packages (the simulators) add commands through the
``farebridge.cli`` entry-point group, so the engine never imports them.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import typer
from sqlalchemy.exc import OperationalError

from clearing.cli import _clearing, _pki, _serve
from clearing.cli._output import errors
from clearing.errors import FarebridgeError

app = typer.Typer(
    name="farebridge",
    help="farebridge: take fares from any card, QR code or wallet and clear them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(_pki.app, name="pki")
app.add_typer(_clearing.app, name="clearing")
app.command("serve")(_serve.serve)
app.command("migrate")(_serve.migrate)


def _load_plugins() -> None:
    for entry_point in entry_points(group="farebridge.cli"):
        entry_point.load()(app)


def main() -> None:
    """Runs the CLI; a user's mistake ends with a message and exit code 2,
    never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _load_plugins()
    try:
        app()
    except FarebridgeError as error:
        errors.print(f"[bold red]error:[/] {error}")
        raise SystemExit(2) from None
    except OperationalError as error:
        errors.print(f"[bold red]error:[/] cannot use the database: {error.orig}")
        raise SystemExit(2) from None
