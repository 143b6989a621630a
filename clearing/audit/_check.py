"""The whole-ledger audit: ``farebridge audit check``.

Run by an auditor with read access to the clearing house's database. Each
check is independent and reports what it found; the audit passes only
when all do.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit._reconcile import (
    CentralTap,
    FindingKind,
    ReconcileReport,
    check_charged,
    check_ledger,
)
from clearing.ledger import leaf_hashes, logged_transfers, posted_only, trial_balance
from clearing.settlement import ReportError, verify_report
from clearing.storage.models import (
    CyclePositionRow,
    CycleReportRow,
    CycleTransferRow,
    LedgerAccountRow,
    LedgerCheckpointRow,
    LedgerTransferRow,
    TapRow,
)
from farebridge.codecs import checkpoint as notes
from farebridge.codecs.merkle import MerkleFrontier, leaf_hash
from farebridge.codecs.transfers import transfer_leaf_bytes
from farebridge.v1 import clearing_service_pb2

_CHUNK = 20_000


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass
class AuditCheck:
    """Every check's result; ``passed`` only when all passed."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    def record(self, name: str, problems: list[str], fine: str) -> None:
        detail = (
            fine
            if not problems
            else "; ".join(problems[:5])
            + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        )
        self.results.append(CheckResult(name, not problems, detail))


def _balances(session: Session) -> list[str]:
    return [
        f"{currency}: debits {debits} != credits {credits}"
        for currency, (debits, credits) in sorted(trial_balance(session).items())
        if debits != credits
    ]


def _log(session: Session, verifier_key: str) -> list[str]:
    """Every leaf still hashes its transfer; every checkpoint is signed by the
    clearing house and is the root of the leaves up to its size."""
    problems: list[str] = []
    heads = {row.tree_size: row for row in session.scalars(select(LedgerCheckpointRow))}
    size = max(heads, default=0)
    frontier = MerkleFrontier()
    for start in range(0, size, _CHUNK):
        stop = min(size, start + _CHUNK)
        stored = leaf_hashes(session, start, stop)
        for (index, transfer), logged in zip(
            logged_transfers(session, start, stop), stored, strict=True
        ):
            if leaf_hash(transfer_leaf_bytes(transfer)) != logged and len(problems) < 50:
                problems.append(f"leaf {index} (transfer {transfer.transfer_id}) was altered")
            frontier = frontier.append(logged)
            head = heads.get(frontier.size)
            if head is not None and bytes(head.root_hash) != frontier.root():
                problems.append(f"checkpoint {frontier.size} is not the root of its leaves")
    for tree_size, head in sorted(heads.items()):
        try:
            signed = notes.parse_checkpoint(
                notes.open_signed_note(head.signed_note, [verifier_key])
            )
        except notes.CheckpointError as error:
            problems.append(f"checkpoint {tree_size}: {error}")
            continue
        if (signed.tree_size, signed.root_hash) != (tree_size, bytes(head.root_hash)):
            problems.append(f"checkpoint {tree_size}: its note says otherwise")
    return problems


Nets = dict[tuple[int, str, str], int]


def _recomputed_nets(session: Session) -> Nets:
    """Each cycle's net per participant and currency, from its transfers
    (other than the settlement instructions that square them)."""
    recomputed: Nets = defaultdict(int)
    for side, sign in (("credit", 1), ("debit", -1)):
        account = getattr(LedgerTransferRow, f"{side}_account_id")
        query = (
            select(
                CycleTransferRow.cycle_number, LedgerAccountRow.participant_id,
                LedgerAccountRow.currency, LedgerTransferRow.amount,
            )
            .join(LedgerTransferRow, LedgerTransferRow.transfer_id == CycleTransferRow.transfer_id)
            .join(LedgerAccountRow, LedgerAccountRow.account_id == account)
            .where(
                posted_only(),
                # Settlement instructions close a cycle's positions; the stored
                # positions are what they settled.
                LedgerTransferRow.code != "settlement",
            )
        )  # fmt: skip
        for cycle, participant, currency, amount in session.execute(query):
            recomputed[(cycle, participant, currency)] += sign * int(amount)
    return recomputed


def _positions(session: Session, recomputed: Nets) -> list[str]:
    """Each closed cycle's stored positions equal what its transfers say."""
    stored = {
        (row.cycle_number, row.participant_id, row.currency): row.net
        for row in session.scalars(select(CyclePositionRow))
    }
    problems = [
        f"cycle {key[0]} {key[1]} {key[2]}: stored net {stored.get(key, 0)}, ledger {net}"
        for key, net in sorted(recomputed.items())
        if stored.get(key, 0) != net
    ]
    problems += [
        f"cycle {k[0]} {k[1]} {k[2]}: no ledger movement"
        for k in stored.keys() - recomputed.keys()
        if stored[k]
    ]
    return problems


def _house_key(verifier_key: str) -> Ed25519PublicKey | None:
    """The Ed25519 key inside a note verifier key (name+hash+base64(0x01||key))."""
    try:
        raw = base64.b64decode(verifier_key.split("+", 2)[2], validate=True)
    except (IndexError, binascii.Error):
        return None
    return Ed25519PublicKey.from_public_bytes(raw[1:]) if len(raw) == 33 else None


def _reports(session: Session, verifier_key: str, recomputed: Nets) -> list[str]:
    """Every closed cycle's signed settlement report verifies under the
    clearing house's key and states the nets its transfers add up to."""
    key = _house_key(verifier_key)
    if key is None:
        return ["the verifier key holds no Ed25519 public key"]
    problems = []
    for row in session.scalars(select(CycleReportRow).order_by(CycleReportRow.cycle_number)):
        signed = clearing_service_pb2.SignedSettlementReport(
            report=row.report, signature=row.signature
        )
        try:
            report = verify_report(signed, key)
        except ReportError as error:
            problems.append(f"cycle {row.cycle_number}: {error}")
            continue
        stated = {(row.cycle_number, p.participant_id, p.currency): p.net for p in report.positions}
        ledger = {k: v for k, v in recomputed.items() if k[0] == row.cycle_number and v}
        if {k: v for k, v in stated.items() if v} != ledger:
            problems.append(f"cycle {row.cycle_number}: the report's nets differ from the ledger")
    return problems


def _tracing(session: Session) -> list[str]:
    report = ReconcileReport()
    central = {
        tap_id: CentralTap(device, sequence, at, token, direction)
        for tap_id, device, sequence, at, token, direction in session.execute(
            select(
                TapRow.tap_id, TapRow.device_id, TapRow.device_sequence, TapRow.tapped_at,
                TapRow.medium_token, TapRow.direction,
            )
        )
    }  # fmt: skip
    check_charged(session, central, report)
    check_ledger(session, report)
    return [
        f"{finding.kind.value}: {finding.count} ({'; '.join(finding.examples)})"
        for finding in report.findings.values()
        if finding.kind is not FindingKind.UNCLEARED_CHARGE or finding.count
    ]


def audit_check(session: Session, verifier_key: str) -> AuditCheck:
    """Runs every check over the whole database."""
    check = AuditCheck()
    check.record("ledger balances per currency", _balances(session), "debits equal credits")
    check.record("signed log", _log(session, verifier_key), "every checkpoint and leaf holds")
    nets = _recomputed_nets(session)
    check.record(
        "cycle positions", _positions(session, nets), "every closed cycle matches the ledger"
    )
    check.record(
        "settlement reports",
        _reports(session, verifier_key, nets),
        "signed, and they match the ledger",
    )
    check.record("charges and taps", _tracing(session), "every charge traces to taps and back")
    return check
