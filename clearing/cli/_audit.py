"""``farebridge audit``: check the ledger from the outside."""

from __future__ import annotations

import csv
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import typer

from clearing.audit import (
    ExportedLeaf,
    PublishedCheckpoint,
    ReconcileReport,
    VerifyReport,
    audit_check,
    reconcile,
    verify_log,
)
from clearing.cli._audit_proof import verify_proof
from clearing.cli._client import AsOption, PkiOption, ServerOption, open_channel
from clearing.cli._output import JsonOption, console, errors, print_json, print_table
from clearing.cli._serve import DatabaseOption
from clearing.ledger import fare_transfer_id, trial_balance
from clearing.pki import PkiLayout, load_signing_key
from clearing.server import ledger_origin
from clearing.storage import Database
from farebridge.codecs import checkpoint as notes
from farebridge.codecs.reader_log import ReaderLogError, ReaderLogRow, read_reader_log
from farebridge.codecs.transfers import LoggedTransfer
from farebridge.v1 import audit_service_pb2, audit_service_pb2_grpc, ledger_pb2

app = typer.Typer(
    help="Verify the ledger, its proofs and tree heads; reconcile reader logs.",
    no_args_is_help=True,
)
app.command("verify-proof")(verify_proof)


def _transfer(message: ledger_pb2.LedgerTransfer) -> LoggedTransfer:
    return LoggedTransfer(
        uuid.UUID(bytes=message.transfer_id),
        uuid.UUID(bytes=message.debit_account_id),
        uuid.UUID(bytes=message.credit_account_id),
        message.amount,
        message.currency,
        message.code,
        message.user_data,
        message.flags,
        uuid.UUID(bytes=message.pending_id) if message.pending_id else None,
        message.timeout,
        message.timestamp.ToDatetime(tzinfo=UTC),
    )


def _leaves(stub: audit_service_pb2_grpc.AuditServiceStub, end: int) -> Iterator[ExportedLeaf]:
    if end == 0:
        return
    request = audit_service_pb2.ExportTransfersRequest(start=0, end=end)
    for entry in stub.ExportTransfers(request):
        yield ExportedLeaf(entry.leaf_index, _transfer(entry.transfer), entry.logged_leaf_hash)


def _report_json(report: VerifyReport, verifier_key: str) -> dict[str, object]:
    return {
        "ok": report.ok,
        "checkpoints": report.checkpoints,
        "leaves": report.leaves,
        "tree_size": report.tree_size,
        "root_hash": report.root_hash.hex(),
        "verifier_key": verifier_key,
        "first_divergence": report.first_divergence,
        "problems": report.problems,
    }


@app.command("verify")
def verify(
    server: str = ServerOption,
    pki_dir: Path = PkiOption,
    participant: str = AsOption,
    verifier_key: str = typer.Option(
        "",
        help="Trusted note verifier key of the clearing house (name+hash+key). Without it, "
        "the key the server announces is used and printed: pin it for later runs.",
    ),
    fresh: bool = typer.Option(True, help="Ask the server for a fresh checkpoint first."),
    as_json: bool = JsonOption,
) -> None:
    """Check checkpoints, their consistency and every logged transfer; exit 1 on a divergence.

    Every checkpoint's signature is checked against the clearing house's key,
    each checkpoint must extend the one before it, and every exported transfer
    must still hash to the leaf the log recorded and the leaves to each root.
    """
    with open_channel(server, pki_dir, participant) as channel:
        stub = audit_service_pb2_grpc.AuditServiceStub(channel)
        if fresh:
            stub.GetCheckpoint(audit_service_pb2.GetCheckpointRequest(fresh=True))
        listed = stub.ListCheckpoints(audit_service_pb2.ListCheckpointsRequest())
        key = verifier_key or listed.verifier_key
        published = [
            PublishedCheckpoint(c.tree_size, c.root_hash, c.signed_note) for c in listed.checkpoints
        ]

        def consistency(old: int, new: int) -> list[bytes]:
            request = audit_service_pb2.GetConsistencyProofRequest(old_size=old, new_size=new)
            return list(stub.GetConsistencyProof(request).proof)

        latest = max((c.tree_size for c in published), default=0)
        report = verify_log(published, key, consistency, _leaves(stub, latest))
    if as_json:
        print_json(_report_json(report, key))
    else:
        _print_report(report, key, pinned=bool(verifier_key))
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: VerifyReport, key: str, *, pinned: bool) -> None:
    if not pinned:
        console.print(f"verifier key (pin it with --verifier-key): {key}", highlight=False)
    console.print(
        f"{report.checkpoints} checkpoints, {report.leaves} leaves, tree size "
        f"{report.tree_size}, root {report.root_hash.hex()}",
        highlight=False,
    )
    if report.ok:
        console.print("the log verifies: signatures, consistency and every leaf", highlight=False)
        return
    errors.print(
        f"first divergence: {report.first_divergence or report.problems[0]}", highlight=False
    )
    for problem in report.problems:
        errors.print(f"  - {problem}", highlight=False)


@app.command("proof")
def proof(
    transfer_id: str = typer.Option("", help="Transfer id (UUID) to prove inclusion of."),
    tap_id: str = typer.Option(
        "", help="Prove the fare of this tap instead (with --device and --sequence)."
    ),
    device: str = typer.Option("", help="The reader of --tap-id, from its log."),
    sequence: int = typer.Option(
        -1, show_default=False, help="The sequence number of --tap-id on its reader."
    ),
    leaf_index: int = typer.Option(-1, help="Leaf index to prove, instead of a transfer id."),
    old_size: int = typer.Option(0, help="Prove consistency from this tree size instead."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the JSON here."),
    server: str = ServerOption,
    pki_dir: Path = PkiOption,
    participant: str = AsOption,
) -> None:
    """Fetch an inclusion or consistency proof as the JSON verify-proof reads.

    A tap's fare is named by the tap itself, as its reader's log records it:
    --tap-id, --device and --sequence give its transfer id.
    """
    if tap_id:
        transfer_id = str(_fare_of(tap_id, device, sequence))
    with open_channel(server, pki_dir, participant) as channel:
        stub = audit_service_pb2_grpc.AuditServiceStub(channel)
        stub.GetCheckpoint(audit_service_pb2.GetCheckpointRequest(fresh=True))
        if old_size:
            request = audit_service_pb2.GetConsistencyProofRequest(old_size=old_size)
            document = stub.GetConsistencyProof(request).proof_json
        else:
            document = stub.GetInclusionProof(
                _inclusion_request(transfer_id, leaf_index)
            ).proof_json
    if output is None:
        typer.echo(document)
    else:
        output.write_text(document + "\n")


def _fare_of(tap_id: str, device: str, sequence: int) -> uuid.UUID:
    if not device or sequence < 0:
        raise typer.BadParameter(
            "a tap's fare needs the tap's --device and --sequence too", param_hint="--tap-id"
        )
    return fare_transfer_id(device, sequence, tap_id)


def _inclusion_request(
    transfer_id: str, leaf_index: int
) -> audit_service_pb2.GetInclusionProofRequest:
    if transfer_id:
        try:
            raw = uuid.UUID(transfer_id).bytes
        except ValueError:
            raise typer.BadParameter("not a UUID", param_hint="--transfer-id") from None
        return audit_service_pb2.GetInclusionProofRequest(transfer_id=raw)
    if leaf_index < 0:
        raise typer.BadParameter("give --transfer-id, --tap-id, --leaf-index or --old-size")
    return audit_service_pb2.GetInclusionProofRequest(leaf_index=leaf_index)


@app.command("checkpoint")
def checkpoint(
    fresh: bool = typer.Option(False, help="Sign a new checkpoint over everything committed."),
    server: str = ServerOption,
    pki_dir: Path = PkiOption,
    participant: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Print the latest signed tree head (C2SP checkpoint note)."""
    with open_channel(server, pki_dir, participant) as channel:
        stub = audit_service_pb2_grpc.AuditServiceStub(channel)
        answer = stub.GetCheckpoint(audit_service_pb2.GetCheckpointRequest(fresh=fresh))
    head = answer.checkpoint
    if as_json:
        print_json(
            {
                "tree_size": head.tree_size,
                "root_hash": head.root_hash.hex(),
                "signed_note": head.signed_note,
                "verifier_key": answer.verifier_key,
            }
        )
    else:
        typer.echo(head.signed_note, nl=False)


def _reconcile_rows(report: ReconcileReport) -> list[tuple[str, int, str]]:
    return [
        (finding.kind.value, finding.count, "; ".join(finding.examples))
        for finding in sorted(report.findings.values(), key=lambda f: f.kind.value)
    ]


@app.command("reconcile")
def reconcile_logs(
    reader_log: list[Path] = typer.Option(
        ..., "--reader-log", help="A reader log (CSV) exported by a reader; repeat for more."
    ),
    database_url: str = DatabaseOption,
    as_json: bool = JsonOption,
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (kind,count,examples)."),
) -> None:
    """Match operators' reader logs with the central record; exit 1 on any finding."""
    rows: list[ReaderLogRow] = []
    for path in reader_log:
        try:
            with path.open(newline="") as source:
                rows.extend(read_reader_log(source))
        except (OSError, ReaderLogError) as error:
            raise typer.BadParameter(f"{path}: {error}", param_hint="--reader-log") from None
    database = Database(database_url)
    try:
        with database.transaction() as session:
            report = reconcile(session, rows)
    finally:
        database.dispose()
    table = _reconcile_rows(report)
    if as_json:
        print_json(
            {
                "clean": report.clean,
                "log_rows": report.log_rows,
                "central_taps": report.central_taps,
                "findings": [
                    {"kind": f.kind.value, "count": f.count, "examples": f.examples}
                    for f in report.findings.values()
                ],
            }
        )
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("kind", "count", "examples"))
        writer.writerows(table)
    elif table:
        print_table("Reconciliation findings", ["Kind", "Count", "Examples"], table)
    else:
        console.print(
            f"{report.log_rows} logged taps, {report.central_taps} central taps: "
            "everything reconciles",
            highlight=False,
        )
    if not report.clean:
        raise typer.Exit(1)


@app.command("trial-balance")
def trial_balance_command(database_url: str = DatabaseOption, as_json: bool = JsonOption) -> None:
    """Posted debits and credits per currency; exit 1 if any currency is off."""
    database = Database(database_url)
    try:
        with database.transaction() as session:
            totals = trial_balance(session)
    finally:
        database.dispose()
    rows = [(c, d, k, "balanced" if d == k else "OFF") for c, (d, k) in sorted(totals.items())]
    if as_json:
        print_json(
            [{"currency": c, "debits": d, "credits": k, "balanced": d == k} for c, d, k, _ in rows]
        )
    else:
        print_table("Trial balance (minor units)", ["Currency", "Debits", "Credits", "State"], rows)
    if any(state == "OFF" for *_, state in rows):
        raise typer.Exit(1)


@app.command("check")
def check(
    database_url: str = DatabaseOption,
    verifier_key: str = typer.Option(
        "", help="The clearing house's note verifier key; default: derived from --pki."
    ),
    pki_dir: Path = PkiOption,
    clearing_house: str = typer.Option("clearing-house", help="The clearing house's id."),
    as_json: bool = JsonOption,
) -> None:
    """Balances, signed log, cycle positions, charges and taps; exit 1 if any check fails."""
    key = verifier_key or notes.verifier_key(
        ledger_origin(clearing_house), load_signing_key(PkiLayout(pki_dir)).public_key()
    )
    database = Database(database_url)
    try:
        with database.transaction() as session:
            result = audit_check(session, key)
    finally:
        database.dispose()
    if as_json:
        print_json(
            {
                "passed": result.passed,
                "checks": [
                    {"name": r.name, "passed": r.passed, "detail": r.detail} for r in result.results
                ],
            }
        )
    else:
        rows = [(r.name, "pass" if r.passed else "FAIL", r.detail) for r in result.results]
        print_table("Audit check", ["Check", "Result", "Detail"], rows)
    if not result.passed:
        raise typer.Exit(1)
