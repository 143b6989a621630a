"""Entry point: the root command, its sub-commands and plugin commands.

Other farebridge packages (the simulators) add commands through the
``farebridge.cli`` entry-point group, so the engine never imports them.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import grpc
import typer
from sqlalchemy.exc import OperationalError

from clearing.cli import _audit, _cards, _clearing, _export, _fares, _keys, _pki, _qr, _serve
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
app.add_typer(_keys.app, name="keys")
app.add_typer(_cards.app, name="cards")
app.add_typer(_audit.app, name="audit")
app.add_typer(_qr.app, name="qr")
app.add_typer(_fares.app, name="fares")
app.add_typer(_export.app, name="export")
app.command("serve")(_serve.serve)
app.command("migrate")(_serve.migrate)


def _load_plugins() -> None:
    for entry_point in entry_points(group="farebridge.cli"):
        entry_point.load()(app)


def _describe_rpc_error(error: grpc.RpcError) -> str:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    name = code.name if isinstance(code, grpc.StatusCode) else "an error"
    return f"the server answered {name}: {details}"


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
    except grpc.RpcError as error:
        errors.print(f"[bold red]error:[/] {_describe_rpc_error(error)}")
        raise SystemExit(2) from None
    except OperationalError as error:
        errors.print(f"[bold red]error:[/] cannot use the database: {error.orig}")
        raise SystemExit(2) from None
