"""Signed settlement reports: a closed cycle as the clearing house attests it.

The report is a ``farebridge.v1.SettlementReport``. Its deterministic
protobuf serialization is stored and signed once, with the clearing house's
Ed25519 key over ``REPORT_DOMAIN`` followed by those bytes (the domain keeps
a report signature from ever being valid as a tree head or tap batch one).
It carries the ledger checkpoint made at the close, so auditors tie the
money to the log. JSON and CSV are exports of the same bytes; JSON carries
the bytes and signature, so it can be checked offline.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import DecodeError
from sqlalchemy.orm import Session

from clearing.errors import FarebridgeError
from clearing.ledger import LedgerLog, SignedCheckpoint, ledger_origin
from clearing.settlement._cycles import CycleSummary, close_cycle, cycle_summary
from clearing.settlement._fx import clearing_house_id, rates_in_force
from clearing.settlement._netting import Direction
from clearing.storage import Database
from clearing.storage.models import CycleReportRow
from farebridge.codecs import checkpoint as notes
from farebridge.v1 import audit_service_pb2, clearing_service_pb2

REPORT_DOMAIN = b"farebridge/v1/settlement-report\n"
Pb = clearing_service_pb2

DIRECTIONS = {
    Direction.PAY_IN: Pb.SETTLEMENT_DIRECTION_PAY_IN,
    Direction.PAY_OUT: Pb.SETTLEMENT_DIRECTION_PAY_OUT,
}


class ReportError(FarebridgeError):
    """A settlement report does not verify: its signature fails under the
    clearing house's key, its readable part differs from the signed bytes,
    or its checkpoint is not signed by the same clearing house. Do not rely
    on any figure in it; fetch it again from the clearing house."""


def report_key_name(clearing_house_id: str) -> str:
    return f"farebridge/{clearing_house_id}/settlement"


def _timestamp(instant: datetime | None) -> timestamp_pb2.Timestamp | None:
    if instant is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(instant)
    return stamp


def cycle_messages(summary: CycleSummary) -> dict[str, Any]:
    """The fields a Cycle and a SettlementReport share, as messages."""
    return {
        "positions": [Pb.Position(**p._asdict()) for p in summary.positions],
        "fees": [Pb.Fee(**f._asdict()) for f in summary.fees],
        "instructions": [
            Pb.SettlementInstruction(
                participant_id=i.participant_id, currency=i.currency,
                direction=DIRECTIONS[i.direction], amount=i.amount,
            )
            for i in summary.instructions
        ],
    }  # fmt: skip


def build_report(
    session: Session, summary: CycleSummary, head: SignedCheckpoint
) -> Pb.SettlementReport:
    rates = rates_in_force(session, summary.cycle_number)
    return Pb.SettlementReport(
        clearing_house_id=clearing_house_id(session),
        cycle_number=summary.cycle_number,
        close_id=summary.close_id,
        closed_at=_timestamp(summary.closed_at),
        cut_off=_timestamp(summary.cut_off),
        transfer_count=summary.transfer_count,
        fx_rates=[
            Pb.FxRate(from_currency=f, to_currency=t, rate=str(r.rate), cycle_number=r.cycle_number)
            for (f, t), r in sorted(rates.items())
        ],
        checkpoint=audit_service_pb2.Checkpoint(
            tree_size=head.tree_size, root_hash=head.root_hash, signed_note=head.signed_note,
            created_at=_timestamp(head.created_at),
        ),
        **cycle_messages(summary),
    )  # fmt: skip


def sign_report(report: Pb.SettlementReport, key: Ed25519PrivateKey) -> Pb.SignedSettlementReport:
    data = report.SerializeToString(deterministic=True)
    return Pb.SignedSettlementReport(
        report=data,
        signature=key.sign(REPORT_DOMAIN + data),
        key_name=report_key_name(report.clearing_house_id),
    )


def verify_report(
    signed: Pb.SignedSettlementReport, public_key: Ed25519PublicKey
) -> Pb.SettlementReport:
    """The report, once its signature and its checkpoint's verify under
    ``public_key``; raises ReportError otherwise."""
    try:
        public_key.verify(signed.signature, REPORT_DOMAIN + signed.report)
    except InvalidSignature as error:
        raise ReportError("the report's signature does not verify") from error
    report = Pb.SettlementReport()
    try:
        report.ParseFromString(signed.report)
    except DecodeError as error:
        raise ReportError("the signed bytes are not a settlement report") from error
    origin = ledger_origin(report.clearing_house_id)
    try:
        head = notes.open_checkpoint(
            report.checkpoint.signed_note, [notes.verifier_key(origin, public_key)], origin=origin
        )
    except notes.CheckpointError as error:
        raise ReportError(f"the report's ledger checkpoint does not verify: {error}") from error
    if (head.tree_size, head.root_hash) != (
        report.checkpoint.tree_size,
        report.checkpoint.root_hash,
    ):
        raise ReportError("the report's checkpoint fields differ from its signed note")
    return report


def report_view(report: Pb.SettlementReport) -> dict[str, Any]:
    """The report as JSON-ready data (int64 as strings: exact everywhere)."""
    return json_format.MessageToDict(report, preserving_proto_field_name=True)


def report_json(signed: Pb.SignedSettlementReport) -> dict[str, Any]:
    """The JSON export: a readable ``report`` plus the signed bytes."""
    report = Pb.SettlementReport()
    report.ParseFromString(signed.report)
    return {
        "format": "farebridge.v1.SignedSettlementReport",
        "report": report_view(report),
        "report_bytes": base64.b64encode(signed.report).decode("ascii"),
        "signature": base64.b64encode(signed.signature).decode("ascii"),
        "key_name": signed.key_name,
    }


def verify_report_json(text: str, public_key: Ed25519PublicKey) -> Pb.SettlementReport:
    """Checks a JSON export: the signature over the bytes, and that the
    readable part says exactly what the signed bytes say."""
    try:
        data = json.loads(text)
        signed = Pb.SignedSettlementReport(
            report=base64.b64decode(data["report_bytes"], validate=True),
            signature=base64.b64decode(data["signature"], validate=True),
            key_name=data.get("key_name", ""),
        )
        readable = data["report"]
    except (ValueError, KeyError, TypeError) as error:
        raise ReportError(f"not a settlement report export: {error}") from error
    report = verify_report(signed, public_key)
    if readable != report_view(report):
        raise ReportError("the readable report differs from the signed bytes")
    return report


CSV_COLUMNS = ("section", "participant_id", "currency", "gross_credit", "gross_debit", "net",
               "fee", "direction", "amount")  # fmt: skip


def report_csv(report: Pb.SettlementReport) -> str:
    """One row per position, fee and instruction, after comment-free header
    rows naming the cycle and its checkpoint."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["cycle_number", report.cycle_number, "clearing_house", report.clearing_house_id]
    )
    writer.writerow(["checkpoint_tree_size", report.checkpoint.tree_size,
                     "checkpoint_root", report.checkpoint.root_hash.hex()])  # fmt: skip
    writer.writerow(CSV_COLUMNS)
    for p in report.positions:
        writer.writerow(["position", p.participant_id, p.currency, p.gross_credit, p.gross_debit,
                         p.net, "", "", ""])  # fmt: skip
    for f in report.fees:
        writer.writerow(["fee", f.participant_id, f.currency, "", "", "", f.amount, "", ""])
    for i in report.instructions:
        direction = Pb.SettlementDirection.Name(i.direction).removeprefix("SETTLEMENT_DIRECTION_")
        writer.writerow(["instruction", i.participant_id, i.currency, "", "", "", "",
                         direction.lower(), i.amount])  # fmt: skip
    return out.getvalue()


class SettlementDesk:
    """Closes cycles and keeps their signed reports: the clearing house's
    one place for both, used by the server and the CLI alike."""

    def __init__(
        self, database: Database, log: LedgerLog, signing_key: Ed25519PrivateKey,
        clock: Callable[[], datetime],
    ) -> None:  # fmt: skip
        self._database = database
        self._log = log
        self._key = signing_key
        self._clock = clock

    def close(
        self, close_id: str, cut_off: datetime | None = None
    ) -> tuple[CycleSummary, SignedCheckpoint, Pb.SignedSettlementReport]:
        """Closes (or answers the already closed) cycle, signs a checkpoint
        over it and its report."""
        now = self._clock()
        with self._database.transaction() as session:
            summary = close_cycle(session, close_id, now, cut_off=cut_off)
        head = self._log.checkpoint(self._clock())
        return summary, head, self._report(summary.cycle_number, head)

    def report(self, cycle_number: int | None = None) -> Pb.SignedSettlementReport:
        """The cycle's signed report; made now if the close's was interrupted."""
        with self._database.transaction() as session:
            number = cycle_summary(session, cycle_number).cycle_number
            stored = session.get(CycleReportRow, number)
            if stored is not None:
                return _signed(stored)
        return self._report(number, self._log.checkpoint(self._clock()))

    def _report(self, cycle_number: int, head: SignedCheckpoint) -> Pb.SignedSettlementReport:
        with self._database.transaction() as session:
            stored = session.get(CycleReportRow, cycle_number)
            if stored is not None:
                return _signed(stored)
            summary = cycle_summary(session, cycle_number)
            signed = sign_report(build_report(session, summary, head), self._key)
            session.add(
                CycleReportRow(
                    cycle_number=cycle_number, report=signed.report,
                    signature=signed.signature, created_at=self._clock(),
                )
            )  # fmt: skip
            return signed


def _signed(row: CycleReportRow) -> Pb.SignedSettlementReport:
    report = Pb.SettlementReport()
    report.ParseFromString(row.report)
    return Pb.SignedSettlementReport(
        report=row.report,
        signature=row.signature,
        key_name=report_key_name(report.clearing_house_id),
    )
