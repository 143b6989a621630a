"""AuditService: read-only access to the ledger's tamper evidence."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import grpc
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit import consistency_document, inclusion_document, reconcile
from clearing.errors import ForbiddenError, InvalidRequestError
from clearing.ledger import (
    LedgerLog,
    SignedCheckpoint,
    leaf_hashes,
    load_accounts,
    logged_transfers,
)
from clearing.server._auth import ParticipantDirectory, caller
from clearing.server._convert import timestamp
from clearing.storage import Database
from clearing.storage.models import DeviceRow
from clearing.values import Participant
from farebridge.codecs.reader_log import STATES, ReaderLogRow
from farebridge.codecs.transfers import LoggedTransfer, transfer_leaf_bytes
from farebridge.v1 import audit_service_pb2, audit_service_pb2_grpc, ledger_pb2

_EXPORT_CHUNK = 5_000


def checkpoint_to_proto(checkpoint: SignedCheckpoint) -> audit_service_pb2.Checkpoint:
    return audit_service_pb2.Checkpoint(
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        signed_note=checkpoint.signed_note,
        created_at=timestamp(checkpoint.created_at),
    )


def transfer_to_proto(transfer: LoggedTransfer) -> ledger_pb2.LedgerTransfer:
    return ledger_pb2.LedgerTransfer(
        transfer_id=transfer.transfer_id.bytes,
        debit_account_id=transfer.debit_account_id.bytes,
        credit_account_id=transfer.credit_account_id.bytes,
        amount=transfer.amount,
        currency=transfer.currency,
        code=transfer.code,
        user_data=transfer.user_data,
        flags=transfer.flags,
        pending_id=transfer.pending_id.bytes if transfer.pending_id else b"",
        timeout=transfer.timeout,
        timestamp=timestamp(transfer.timestamp),
    )


def _entry_json(transfer: LoggedTransfer) -> dict[str, object]:
    return {
        "transfer_id": str(transfer.transfer_id),
        "debit_account_id": str(transfer.debit_account_id),
        "credit_account_id": str(transfer.credit_account_id),
        "amount": transfer.amount,
        "currency": transfer.currency,
        "code": transfer.code,
        "user_data": transfer.user_data,
        "flags": transfer.flags,
        "pending_id": str(transfer.pending_id) if transfer.pending_id else None,
        "timeout": transfer.timeout,
        "timestamp": transfer.timestamp.isoformat(),
        "leaf_bytes": transfer_leaf_bytes(transfer).hex(),
    }


class AuditServicer(audit_service_pb2_grpc.AuditServiceServicer):
    def __init__(
        self,
        database: Database,
        log: LedgerLog,
        clock: Callable[[], datetime],
        directory: ParticipantDirectory,
    ) -> None:
        self._database = database
        self._log = log
        self._clock = clock
        self._directory = directory

    def _entitled_to(self, context: grpc.ServicerContext, transfer: LoggedTransfer) -> None:
        """A proof shows a transfer's content: only to a party of it, the
        clearing house, or an auditor whose scope covers a party of it."""
        who = caller(context, self._directory)
        if who.sees_everything:
            return
        accounts = [transfer.debit_account_id, transfer.credit_account_id]
        with self._database.transaction() as session:
            owners = load_accounts(session, accounts)
        if not any(who.sees(account.participant_id) for account in owners.values()):
            raise ForbiddenError("this transfer is not among the records you may see")

    def GetCheckpoint(
        self, request: audit_service_pb2.GetCheckpointRequest, context: grpc.ServicerContext
    ) -> audit_service_pb2.GetCheckpointResponse:
        if request.fresh:
            head = self._log.checkpoint(self._clock())
        else:
            head = self._log.stored_checkpoint(request.tree_size or None)
        return audit_service_pb2.GetCheckpointResponse(
            checkpoint=checkpoint_to_proto(head), verifier_key=self._log.verifier_key
        )

    def ListCheckpoints(
        self, request: audit_service_pb2.ListCheckpointsRequest, context: grpc.ServicerContext
    ) -> audit_service_pb2.ListCheckpointsResponse:
        return audit_service_pb2.ListCheckpointsResponse(
            checkpoints=[checkpoint_to_proto(c) for c in self._log.checkpoints()],
            verifier_key=self._log.verifier_key,
        )

    def GetInclusionProof(
        self, request: audit_service_pb2.GetInclusionProofRequest, context: grpc.ServicerContext
    ) -> audit_service_pb2.GetInclusionProofResponse:
        transfer_id = None
        if request.transfer_id:
            if len(request.transfer_id) != 16:
                raise InvalidRequestError("transfer_id must be 16 bytes", field="transfer_id")
            transfer_id = uuid.UUID(bytes=request.transfer_id)
        proof = self._log.inclusion(
            transfer_id=transfer_id,
            leaf_index=None if transfer_id else request.leaf_index,
            tree_size=request.tree_size or None,
        )
        self._entitled_to(context, proof.transfer)
        head = self._log.stored_checkpoint(proof.tree_size)
        document = inclusion_document(
            leaf_hash=proof.leaf_hash,
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            root_hash=proof.root_hash,
            proof=proof.proof,
            extra={"checkpoint": head.signed_note, "entry": _entry_json(proof.transfer)},
        )
        return audit_service_pb2.GetInclusionProofResponse(
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            leaf_hash=proof.leaf_hash,
            root_hash=proof.root_hash,
            proof=list(proof.proof),
            transfer=transfer_to_proto(proof.transfer),
            proof_json=json.dumps(document, indent=2),
        )

    def GetConsistencyProof(
        self,
        request: audit_service_pb2.GetConsistencyProofRequest,
        context: grpc.ServicerContext,
    ) -> audit_service_pb2.GetConsistencyProofResponse:
        proof = self._log.consistency(request.old_size, request.new_size or None)
        document = consistency_document(
            old_size=proof.old_size,
            new_size=proof.new_size,
            old_root=proof.old_root,
            new_root=proof.new_root,
            proof=proof.proof,
        )
        return audit_service_pb2.GetConsistencyProofResponse(
            old_size=proof.old_size,
            new_size=proof.new_size,
            old_root=proof.old_root,
            new_root=proof.new_root,
            proof=list(proof.proof),
            proof_json=json.dumps(document, indent=2),
        )

    def ExportTransfers(
        self, request: audit_service_pb2.ExportTransfersRequest, context: grpc.ServicerContext
    ) -> Iterator[audit_service_pb2.ExportTransfersResponse]:
        if not caller(context, self._directory).sees_everything:
            raise ForbiddenError(
                "the full export is for auditors of the whole ledger; a scoped auditor "
                "verifies its participants' transfers with inclusion proofs"
            )
        end = request.end or self._log.stored_checkpoint(None).tree_size
        for start in range(request.start, end, _EXPORT_CHUNK):
            stop = min(end, start + _EXPORT_CHUNK)
            with self._database.transaction() as session:
                rows = logged_transfers(session, start, stop)
                hashes = leaf_hashes(session, start, stop)
            for (index, transfer), logged in zip(rows, hashes, strict=True):
                yield audit_service_pb2.ExportTransfersResponse(
                    leaf_index=index,
                    transfer=transfer_to_proto(transfer),
                    leaf_bytes=transfer_leaf_bytes(transfer),
                    logged_leaf_hash=logged,
                )

    def Reconcile(
        self,
        request_iterator: Iterator[audit_service_pb2.ReconcileRequest],
        context: grpc.ServicerContext,
    ) -> audit_service_pb2.ReconcileResponse:
        who = caller(context, self._directory)
        rows = [_log_row(line) for request in request_iterator for line in request.lines]
        with self._database.transaction() as session:
            if not who.sees_everything:
                _check_scope(session, who, {row.device_id for row in rows})
            report = reconcile(session, rows)
        return audit_service_pb2.ReconcileResponse(
            clean=report.clean,
            log_rows=report.log_rows,
            central_taps=report.central_taps,
            findings=[
                audit_service_pb2.ReconcileFinding(
                    kind=f.kind.value, count=f.count, examples=f.examples
                )
                for f in report.findings.values()
            ],
        )


def _log_row(line: audit_service_pb2.ReaderLogLine) -> ReaderLogRow:
    if line.direction not in ("on", "off") or line.state not in STATES:
        raise InvalidRequestError(
            f"line for tap {line.tap_id!r}: direction must be on/off and state one of "
            f"{sorted(STATES)}",
            field="lines",
        )
    return ReaderLogRow(
        line.tap_id, line.device_id, line.device_sequence,
        line.tapped_at.ToDatetime(tzinfo=UTC), line.medium_token, line.direction, line.state,
        line.reject_reason,
        line.card_counter if line.HasField("card_counter") else None,
        line.card_debit_minor if line.HasField("card_debit_minor") else None,
    )  # fmt: skip


def _check_scope(session: Session, who: Participant, devices: set[str]) -> None:
    owners = session.execute(
        select(DeviceRow.device_id, DeviceRow.operator_id).where(DeviceRow.device_id.in_(devices))
    ).all()
    foreign = sorted(device for device, operator in owners if not who.sees(operator))
    if foreign:
        raise ForbiddenError(f"readers outside your audit scope: {', '.join(foreign[:5])}")
