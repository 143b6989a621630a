"""The central double-entry ledger.

Every movement of money in farebridge is a ``Transfer`` posted here: one
amount leaves one account and enters another in the same currency, so the
ledger balances per currency by construction and the database checks it
again. Transfers are append-only; a correction is a new transfer.
"""

from clearing.ledger._accounts import AccountCode, AccountRef, account_id_for
from clearing.ledger._posting import (
    LedgerInvariantError,
    Transfer,
    post_transfers,
    transfer_id_for,
    trial_balance,
)

__all__ = [
    "AccountCode",
    "AccountRef",
    "LedgerInvariantError",
    "Transfer",
    "account_id_for",
    "post_transfers",
    "transfer_id_for",
    "trial_balance",
]
