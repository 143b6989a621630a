"""``farebridge clearing``: close cycles, read positions, export and verify
signed settlement reports."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearing import settlement
from clearing.cli._output import JsonOption, console, errors, print_json, print_table
from clearing.cli._serve import DatabaseOption
from clearing.errors import InvalidRequestError
from clearing.ledger import LedgerLog, SignedCheckpoint
from clearing.pki import PkiLayout, load_signing_key
from clearing.server import ledger_origin
from clearing.settlement import CycleSummary, SettlementDesk, parse_schedule
from clearing.storage import Database
from farebridge.v1 import clearing_service_pb2 as settlement_pb

app = typer.Typer(
    help="Close clearing cycles; read positions and signed settlement reports.",
    no_args_is_help=True,
)


def summary_json(summary: CycleSummary, head: SignedCheckpoint | None = None) -> dict[str, object]:
    data: dict[str, object] = {
        "cycle_number": summary.cycle_number,
        "close_id": summary.close_id,
        "closed_at": summary.closed_at.isoformat(),
        "transfer_count": summary.transfer_count,
        "cut_off": summary.cut_off.isoformat() if summary.cut_off else None,
        "positions": [p._asdict() for p in summary.positions],
        "fees": [f._asdict() for f in summary.fees],
        "instructions": [i._asdict() for i in summary.instructions],
    }
    if head is not None:
        data["checkpoint"] = {
            "tree_size": head.tree_size,
            "root_hash": head.root_hash.hex(),
            "signed_note": head.signed_note,
        }
    return data


def print_summary(
    summary: CycleSummary, as_json: bool, head: SignedCheckpoint | None = None
) -> None:
    """Positions as a table, or as JSON for machines."""
    if as_json:
        print_json(summary_json(summary, head))
        return
    title = (
        f"Cycle {summary.cycle_number} closed {summary.closed_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"{summary.transfer_count} transfers (amounts in minor units)"
    )
    rows = [
        (p.participant_id, p.currency, p.gross_credit, p.gross_debit, p.net)
        for p in summary.positions
    ]
    print_table(title, ["Participant", "Currency", "Gross credit", "Gross debit", "Net"], rows)
    totals: dict[str, int] = {}
    for position in summary.positions:
        totals[position.currency] = totals.get(position.currency, 0) + position.net
    for currency, total in sorted(totals.items()):
        console.print(f"net positions in {currency} sum to {total}", highlight=False)
    if summary.fees:
        fee_rows = [(f.participant_id, f.currency, f.gross_fares, f.fare_count, f.amount)
                    for f in summary.fees]  # fmt: skip
        print_table("Clearing fees", ["Participant", "Currency", "Gross fares", "Fares", "Fee"],
                    fee_rows)  # fmt: skip
    if summary.instructions:
        print_table(
            "Settlement instructions (through the clearing house's settlement account)",
            ["Participant", "Currency", "Direction", "Amount"],
            [(i.participant_id, i.currency, i.direction.value, i.amount)
             for i in summary.instructions],
        )  # fmt: skip
    if head is not None:
        console.print(
            f"ledger checkpoint: tree size {head.tree_size}, root {head.root_hash.hex()}",
            highlight=False,
        )


def _cut_off(at: str, times: list[str], zone: str, now: datetime) -> datetime | None:
    if at:
        try:
            instant = datetime.fromisoformat(at)
        except ValueError as error:
            raise InvalidRequestError(
                f"not an ISO 8601 instant: {at!r}", field="cut_off"
            ) from error
        if instant.tzinfo is None:
            raise InvalidRequestError("give the cut-off with its UTC offset", field="cut_off")
        return instant.astimezone(UTC)
    if times:
        return parse_schedule(zone, times).latest_cut_off(now)
    return None


def _desk(database: Database, pki_dir: Path, clearing_house: str) -> SettlementDesk:
    signing_key = load_signing_key(PkiLayout(pki_dir))
    log = LedgerLog(database, ledger_origin(clearing_house), signing_key)
    return SettlementDesk(database, log, signing_key, lambda: datetime.now(UTC))


PkiDirOption = typer.Option(
    Path("pki"), "--pki", help="PKI folder holding the clearing house's signing key."
)
HouseOption = typer.Option("clearing-house", help="The clearing house's id.")


@app.command("close")
def close(
    database_url: str = DatabaseOption,
    pki_dir: Path = PkiDirOption,
    clearing_house: str = HouseOption,
    close_id: str = typer.Option(
        "", help="Idempotency key; repeating a close with it answers the same cycle."
    ),
    cut_off: str = typer.Option("", help="The cycle's end, ISO 8601 with offset (default: now)."),
    cut_off_time: list[str] = typer.Option(
        [], "--cut-off-time", help="Scheduled cut-off HH:MM (repeatable); the latest passed one."
    ),
    zone: str = typer.Option("UTC", help="Time zone of --cut-off-time, such as Asia/Singapore."),
    as_json: bool = JsonOption,
) -> None:
    """Close the open cycle at its cut-off: fees, settlement instructions, a
    signed ledger checkpoint and a signed settlement report."""
    database = Database(database_url)
    try:
        database.migrate()
        end = _cut_off(cut_off, cut_off_time, zone, datetime.now(UTC))
        desk = _desk(database, pki_dir, clearing_house)
        summary, head, _ = desk.close(close_id or str(uuid.uuid4()), end)
    finally:
        database.dispose()
    print_summary(summary, as_json, head)


@app.command("report")
def report(
    database_url: str = DatabaseOption,
    cycle: int = typer.Option(0, help="Cycle number; 0 means the latest closed cycle."),
    pki_dir: Path = PkiDirOption,
    clearing_house: str = HouseOption,
    as_json: bool = JsonOption,
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV rows instead of a table."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file."),
) -> None:
    """Print a cycle's signed settlement report (JSON carries the signature)."""
    database = Database(database_url)
    try:
        signed = _desk(database, pki_dir, clearing_house).report(cycle or None)
        with database.transaction() as session:
            summary = settlement.cycle_summary(session, cycle or None)
    finally:
        database.dispose()
    if as_json or as_csv:
        text = (
            json.dumps(settlement.report_json(signed), indent=2, sort_keys=True) + "\n"
            if as_json
            else settlement.report_csv(_parsed(signed.report))
        )
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text)
        return
    print_summary(summary, False)
    console.print(f"signed by {signed.key_name}: {signed.signature.hex()}", highlight=False)


def _parsed(data: bytes) -> settlement_pb.SettlementReport:
    message = settlement_pb.SettlementReport()
    message.ParseFromString(data)
    return message


@app.command("verify-report")
def verify_report(
    file: Path = typer.Argument(..., help="A report exported with `report --json`."),
    pki_dir: Path = typer.Option(
        Path("pki"), "--pki", help="PKI folder whose signing key's public half to trust."
    ),
    public_key: Path | None = typer.Option(
        None, help="The clearing house's Ed25519 public key (PEM); overrides --pki."
    ),
) -> None:
    """Check a report offline: its signature, its readable part against the
    signed bytes, and its ledger checkpoint. Exit 0 only if all hold."""
    if public_key is not None:
        key = serialization.load_pem_public_key(public_key.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidRequestError(f"{public_key} is not an Ed25519 key", field="public_key")
    else:
        key = load_signing_key(PkiLayout(pki_dir)).public_key()
    try:
        checked = settlement.verify_report_json(file.read_text(), key)
    except settlement.ReportError as error:
        errors.print(f"[bold red]report does not verify:[/] {error}")
        raise typer.Exit(1) from None
    console.print(
        f"report of cycle {checked.cycle_number} verifies: signed by {checked.clearing_house_id}, "
        f"ledger tree size {checked.checkpoint.tree_size}",
        highlight=False,
    )


@app.command("positions")
def positions(
    database_url: str = DatabaseOption,
    cycle: int = typer.Option(0, help="Cycle number; 0 means the latest closed cycle."),
    as_json: bool = JsonOption,
) -> None:
    """Print the positions of a closed cycle."""
    database = Database(database_url)
    with database.transaction() as session:
        summary = settlement.cycle_summary(session, cycle or None)
    database.dispose()
    print_summary(summary, as_json)
