"""The central double-entry ledger, under a TigerBeetle-style contract.

Every movement of money in farebridge is a transfer created here: one amount
leaves one account and enters another in the same currency, so the ledger
balances per currency by construction, and the database checks it again.
Transfers are append-only; a correction is a new transfer. See docs.md.
"""

from clearing.ledger._accounts import (
    AccountCode,
    AccountRef,
    account_id_for,
    fare_transfer_id,
    transfer_id_for,
)
from clearing.ledger._contract import (
    MAX_AMOUNT,
    TRANSIENT_RESULTS,
    Account,
    AccountFlags,
    AccountResult,
    Balance,
    PendingState,
    Transfer,
    TransferFlags,
    TransferRequest,
    TransferResult,
)
from clearing.ledger._engine import LedgerChanges, LedgerView, plan_transfers
from clearing.ledger._horizon import HORIZON_STEP, advance_horizon, hold_horizon
from clearing.ledger._log import (
    ConsistencyProof,
    InclusionProof,
    LedgerLog,
    SignedCheckpoint,
    leaf_hashes,
    ledger_origin,
    logged_transfer,
    logged_transfers,
)
from clearing.ledger._posting import LedgerInvariantError, Posting, post_chains, post_or_raise
from clearing.ledger._store import (
    balances,
    create_accounts,
    create_transfers,
    ensure_accounts,
    load_accounts,
    load_transfers,
    lookup_accounts,
    posted_only,
    trial_balance,
)
from clearing.ledger._totals import fold_totals

__all__ = [
    "HORIZON_STEP",
    "MAX_AMOUNT",
    "TRANSIENT_RESULTS",
    "Account",
    "AccountCode",
    "AccountFlags",
    "AccountRef",
    "AccountResult",
    "Balance",
    "ConsistencyProof",
    "InclusionProof",
    "LedgerChanges",
    "LedgerInvariantError",
    "LedgerLog",
    "LedgerView",
    "PendingState",
    "Posting",
    "SignedCheckpoint",
    "Transfer",
    "TransferFlags",
    "TransferRequest",
    "TransferResult",
    "account_id_for",
    "advance_horizon",
    "balances",
    "create_accounts",
    "create_transfers",
    "ensure_accounts",
    "fare_transfer_id",
    "fold_totals",
    "hold_horizon",
    "leaf_hashes",
    "ledger_origin",
    "load_accounts",
    "load_transfers",
    "logged_transfer",
    "logged_transfers",
    "lookup_accounts",
    "plan_transfers",
    "post_chains",
    "post_or_raise",
    "posted_only",
    "transfer_id_for",
    "trial_balance",
]
