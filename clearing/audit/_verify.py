"""Verifying the ledger's log from the outside, as an auditor does.

Given the signed checkpoints, consistency proofs between them, and the
exported transfers, ``LogVerifier`` checks that every checkpoint is signed
by the clearing house, that each one extends the one before, that every
exported transfer still hashes to the leaf the log recorded, and that the
leaves hash to every checkpoint's root. It names the first divergence.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from farebridge.codecs import checkpoint as notes
from farebridge.codecs.merkle import MerkleFrontier, ProofError, leaf_hash, verify_consistency
from farebridge.codecs.transfers import LoggedTransfer, transfer_leaf_bytes


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A checkpoint as the server lists it: its claimed size and root, and the
    signed note that must say the same."""

    tree_size: int
    root_hash: bytes
    signed_note: str


@dataclass(frozen=True)
class ExportedLeaf:
    """One exported transfer with the leaf hash the log recorded for it."""

    leaf_index: int
    transfer: LoggedTransfer
    logged_leaf_hash: bytes


ConsistencySource = Callable[[int, int], Sequence[bytes]]


@dataclass
class VerifyReport:
    """What was checked and what was wrong; ``ok`` when nothing was."""

    checkpoints: int = 0
    leaves: int = 0
    tree_size: int = 0
    root_hash: bytes = b""
    problems: list[str] = field(default_factory=list)
    first_divergence: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def diverged(self, message: str) -> None:
        if self.first_divergence is None:
            self.first_divergence = message
        self.problems.append(message)


def _check_signatures(
    checkpoints: Sequence[PublishedCheckpoint], verifier_key: str, report: VerifyReport
) -> None:
    for published in checkpoints:
        try:
            body = notes.open_signed_note(published.signed_note, [verifier_key])
            signed = notes.parse_checkpoint(body)
        except notes.CheckpointError as error:
            report.problems.append(f"checkpoint {published.tree_size}: {error}")
            continue
        if (signed.tree_size, signed.root_hash) != (published.tree_size, published.root_hash):
            report.problems.append(
                f"checkpoint {published.tree_size}: the signed note says size "
                f"{signed.tree_size} and another root than the server lists"
            )


def _check_consistency(
    checkpoints: Sequence[PublishedCheckpoint], proofs: ConsistencySource, report: VerifyReport
) -> None:
    for old, new in itertools.pairwise(checkpoints):
        if old.tree_size == 0:
            continue
        try:
            proof = proofs(old.tree_size, new.tree_size)
            verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
        except ProofError as error:
            report.problems.append(
                f"checkpoint {new.tree_size} does not extend checkpoint {old.tree_size}: {error}"
            )


def _check_leaves(
    checkpoints: Sequence[PublishedCheckpoint], leaves: Iterable[ExportedLeaf], report: VerifyReport
) -> None:
    roots = {c.tree_size: c.root_hash for c in checkpoints}
    frontier = MerkleFrontier()
    previous = 0
    for leaf in leaves:
        if leaf.leaf_index != frontier.size:
            report.diverged(f"leaf {frontier.size} is missing from the export")
            return
        recomputed = leaf_hash(transfer_leaf_bytes(leaf.transfer))
        if recomputed != leaf.logged_leaf_hash:
            report.diverged(
                f"leaf {leaf.leaf_index} (transfer {leaf.transfer.transfer_id}) no longer hashes "
                "to the leaf the log recorded: the stored transfer was altered"
            )
        frontier = frontier.append(recomputed)
        report.leaves += 1
        expected = roots.get(frontier.size)
        if expected is not None:
            if frontier.root() != expected:
                report.diverged(
                    f"the leaves {previous}..{frontier.size - 1} do not hash to the root signed "
                    f"in checkpoint {frontier.size}"
                )
            previous = frontier.size
    latest = checkpoints[-1].tree_size if checkpoints else 0
    if frontier.size < latest:
        report.diverged(f"the export stops at leaf {frontier.size}; checkpoints reach {latest}")


def verify_log(
    checkpoints: Sequence[PublishedCheckpoint],
    verifier_key: str,
    consistency: ConsistencySource,
    leaves: Iterable[ExportedLeaf],
) -> VerifyReport:
    """Runs every check; never raises for a problem in the data."""
    ordered = sorted(checkpoints, key=lambda c: c.tree_size)
    report = VerifyReport(checkpoints=len(ordered))
    if ordered:
        report.tree_size, report.root_hash = ordered[-1].tree_size, ordered[-1].root_hash
    _check_signatures(ordered, verifier_key, report)
    _check_consistency(ordered, consistency, report)
    _check_leaves(ordered, leaves, report)
    return report
