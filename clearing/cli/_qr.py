"""``farebridge qr``: decode EMVCo merchant QR payloads and make PayNow codes.

``decode`` is for people at a help desk and for scripts alike: JSON by
default, a table with ``--table``. A payload that cannot be read (torn TLV,
wrong CRC) prints ``{"error": CODE, "message": ...}`` and exits 1, so a script
can tell "not a merchant QR" from "a merchant QR that breaks some rules",
which decodes normally and lists its violations.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from clearing.cli._output import console, fail, print_json, print_table
from farebridge.codecs.emvco import (
    EmvcoError,
    MpmPayload,
    Violation,
    build_paynow,
    detect_profile,
    parse_amount,
    parse_payload,
    payload_violations,
    profile_violations,
)

app = typer.Typer(
    help="Decode EMVCo merchant QR payloads (PayNow, PromptPay, DuitNow) and make PayNow codes.",
    no_args_is_help=True,
)

_NAMES = {
    "00": "payload format indicator",
    "01": "point of initiation",
    "52": "merchant category code",
    "53": "transaction currency",
    "54": "transaction amount",
    "55": "tip or convenience indicator",
    "56": "convenience fee, fixed",
    "57": "convenience fee, percentage",
    "58": "country code",
    "59": "merchant name",
    "60": "merchant city",
    "61": "postal code",
    "62": "additional data",
    "63": "CRC",
    "64": "merchant information, other language",
}


class ProxyType(StrEnum):
    MOBILE = "mobile"
    UEN = "uen"


def _tag_name(tag: str) -> str:
    if "02" <= tag <= "51":
        return "merchant account information"
    return _NAMES.get(tag, "unreserved template" if tag >= "80" else "")


def decode_report(payload: MpmPayload) -> dict[str, Any]:
    """What ``decode`` prints: the tags, the scheme and every rule broken."""
    violations: list[Violation] = [*payload_violations(payload), *profile_violations(payload)]
    return {
        "tags": payload.as_dict(),
        "crc_valid": True,
        "profile": detect_profile(payload),
        "violations": [{"code": v.code, "message": v.message} for v in violations],
    }


def _print_table(report: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []
    for tag, value in report["tags"].items():
        if isinstance(value, str):
            rows.append((tag, _tag_name(tag), value))
            continue
        rows.append((tag, _tag_name(tag), ""))
        rows.extend((f"{tag}.{sub}", "", text) for sub, text in value.items())
    print_table("EMVCo merchant-presented QR", ["Tag", "Name", "Value"], rows)
    console.print(f"scheme: {report['profile'] or 'none recognised'}", highlight=False)
    for violation in report["violations"]:
        console.print(f"[yellow]{violation['code']}[/]: {violation['message']}", highlight=False)


@app.command("decode")
def decode(
    payload: str = typer.Argument(..., help="The text a QR scanner reads from the code."),
    as_json: bool = typer.Option(
        True, "--json/--table", help="JSON for machines (the default) or a table for people."
    ),
) -> None:
    """Decode a merchant QR payload, check its CRC and its EMVCo and scheme rules."""
    try:
        read = parse_payload(payload, strict=False)
    except EmvcoError as error:
        if as_json:
            print_json({"error": error.code, "message": str(error)})
            raise typer.Exit(1) from None
        raise fail(f"{error.code}: {error}", code=1) from None
    report = decode_report(read)
    if as_json:
        # Payload order, not sorted: EMVCo's own example puts 64 before 54.
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_table(report)


@app.command("paynow")
def paynow(
    *,
    proxy_type: ProxyType = typer.Option(..., "--proxy-type", help="mobile or uen."),
    proxy: str = typer.Option(..., "--proxy", help="+6591234567, or a UEN like 201403121W."),
    amount: str | None = typer.Option(None, "--amount", help="In dollars, e.g. 12.50."),
    editable: bool = typer.Option(
        True, "--editable/--fixed", help="May the payer change the amount?"
    ),
    expiry: str | None = typer.Option(None, "--expiry", help="Last day to pay, YYYY-MM-DD."),
    merchant_name: str = typer.Option("NA", "--merchant-name", help="At most 25 characters."),
    merchant_city: str = typer.Option("Singapore", "--merchant-city"),
    reference: str | None = typer.Option(None, "--reference", help="Bill number, <= 25 chars."),
    png: Path | None = typer.Option(None, "--png", help="Also write the code as a PNG image."),
    svg: Path | None = typer.Option(None, "--svg", help="Also write the code as an SVG image."),
) -> None:
    """Make a PayNow QR payload and print it; optionally render it."""
    try:
        text = build_paynow(
            proxy_type.value,
            proxy,
            amount_minor=None if amount is None else parse_amount(amount, "SGD"),
            editable=editable,
            expiry=_expiry(expiry),
            merchant_name=merchant_name,
            merchant_city=merchant_city,
            reference=reference,
        )
    except EmvcoError as error:
        raise fail(f"{error.code}: {error}") from None
    typer.echo(text)
    _render(text, png, svg)


def _expiry(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"--expiry {text!r} is not a date YYYY-MM-DD") from None


def _render(text: str, png: Path | None, svg: Path | None) -> None:
    """Writes the images asked for. The qrcode package is needed only here."""
    if png is None and svg is None:
        return
    try:
        import qrcode  # noqa: PLC0415 - optional: only rendering needs it
        import qrcode.image.svg  # noqa: PLC0415 - optional: only rendering needs it
    except ImportError:
        raise fail("rendering needs the qrcode package: pip install 'qrcode[pil]'") from None
    if png is not None:
        with png.open("wb") as stream:
            qrcode.make(text).save(stream)
    if svg is not None:
        with svg.open("wb") as stream:
            qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage).save(stream)
