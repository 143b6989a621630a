"""``farebridge keys``: stored-value card keys, for issuers and for clearing.

Diversifying a card key needs the issuer's master key, so this runs where the
master key already is: at the issuer's personalization station or in the
clearing house, never on a reader.
"""

from __future__ import annotations

import binascii

import typer
from rich.markup import escape

from clearing.cli._output import JsonOption, errors, print_json
from farebridge.codecs.cards import CardKeyError, diversify_aes128

app = typer.Typer(help="Derive stored-value card keys (NXP AN10922).", no_args_is_help=True)


@app.command("diversify")
def diversify(
    master: str = typer.Option(..., "--master", help="Issuer master key: 16 bytes as hex."),
    uid: str = typer.Option(..., "--uid", help="Card UID as hex: 4, 7 or 10 bytes."),
    aid: str = typer.Option(..., "--aid", help="Application identifier as hex."),
    system_id: str = typer.Option(
        ..., "--system-id", help="System identifier as text, used as its UTF-8 bytes."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Print the AES-128 key of one card, diversified from the master key."""
    try:
        key = diversify_aes128(
            _hex(master, "--master"), _hex(uid, "--uid"), _hex(aid, "--aid"), system_id.encode()
        )
    except CardKeyError as error:
        raise _fail(str(error)) from None
    if as_json:
        print_json({"key": key.hex().upper()})
    else:
        typer.echo(key.hex().upper())


def _hex(text: str, option: str) -> bytes:
    """Decodes hex, allowing spaces and colons between bytes as they are often copied."""
    cleaned = text.replace(" ", "").replace(":", "")
    try:
        return binascii.unhexlify(cleaned)
    except (binascii.Error, ValueError):
        raise _fail(f"{option} must be hex digits, two per byte; got {text!r}") from None


def _fail(message: str) -> typer.Exit:
    """Prints the error on one line however narrow the terminal, so scripts
    that read stderr line by line get it whole, and returns the Exit to raise."""
    errors.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)
