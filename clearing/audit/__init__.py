"""Audit: what lets an outsider prove that the ledger lost, invented or altered
nothing.

Here: the offline proof document (an inclusion or consistency proof with
the hashes it joins, as JSON, checkable without access to farebridge), and
the log verifier that checks signed checkpoints, their consistency and every
exported transfer against the leaves the log recorded.
The Merkle hashing and the signed checkpoints it relies on are in the shared
codecs (``farebridge.codecs.merkle`` and ``farebridge.codecs.checkpoint``),
so auditors run the very code the clearing house runs. See ``docs.md``.
"""

from clearing.audit._check import AuditCheck, CheckResult, audit_check
from clearing.audit._exports import (
    JournalAccount,
    JournalEntry,
    account_name,
    beancount_journal,
    decimal_amount,
    hledger_journal,
    journal_entries,
)
from clearing.audit._proofs import (
    CONSISTENCY,
    INCLUSION,
    ConsistencyProofDocument,
    InclusionProofDocument,
    ProofDocument,
    ProofDocumentError,
    consistency_document,
    describe_proof,
    inclusion_document,
    parse_proof_document,
    verify_proof_document,
)
from clearing.audit._reconcile import Finding, FindingKind, ReconcileReport, reconcile
from clearing.audit._verify import (
    ExportedLeaf,
    PublishedCheckpoint,
    VerifyReport,
    verify_log,
)
from farebridge.codecs.merkle import ProofError

__all__ = [
    "CONSISTENCY",
    "INCLUSION",
    "AuditCheck",
    "CheckResult",
    "ConsistencyProofDocument",
    "ExportedLeaf",
    "Finding",
    "FindingKind",
    "InclusionProofDocument",
    "JournalAccount",
    "JournalEntry",
    "ProofDocument",
    "ProofDocumentError",
    "ProofError",
    "PublishedCheckpoint",
    "ReconcileReport",
    "VerifyReport",
    "account_name",
    "audit_check",
    "beancount_journal",
    "consistency_document",
    "decimal_amount",
    "describe_proof",
    "hledger_journal",
    "inclusion_document",
    "journal_entries",
    "parse_proof_document",
    "reconcile",
    "verify_log",
    "verify_proof_document",
]
