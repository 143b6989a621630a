"""Wallet providers' riders: accounts, the proxy directory, top-ups, virtual
cards, ride credentials with the trust list, and the versioned deny list.

A provider reaches only its own accounts (``owned_account`` is the one
gate); writes are idempotent under the provider's keys, and a retry with
different content is a ConflictError naming the field. See docs.md.
"""

from clearing.wallets._accounts import (
    link_proxy,
    open_account,
    owned_account,
    provision_card,
    resolve_proxy,
    unlink_proxy,
)
from clearing.wallets._credentials import (
    credential_key,
    issue_ride_credential,
    signed_trust_list,
)
from clearing.wallets._deny import (
    DenyChange,
    DenyDelta,
    DenyEntry,
    change_deny_list,
    deny_list_delta,
    deny_list_snapshot,
    signed_deny_list,
)
from clearing.wallets._funds import (
    FareComponent,
    JourneyTap,
    account_balances,
    journeys,
    top_up,
    top_up_payload,
)
from clearing.wallets._values import (
    Balances,
    Proxy,
    ProxyKind,
    ResolvedProxy,
    RiderAccount,
    TopUp,
    VirtualCard,
    normalize_proxy,
)

__all__ = [
    "Balances",
    "DenyChange",
    "DenyDelta",
    "DenyEntry",
    "FareComponent",
    "JourneyTap",
    "Proxy",
    "ProxyKind",
    "ResolvedProxy",
    "RiderAccount",
    "TopUp",
    "VirtualCard",
    "account_balances",
    "change_deny_list",
    "credential_key",
    "deny_list_delta",
    "deny_list_snapshot",
    "issue_ride_credential",
    "journeys",
    "link_proxy",
    "normalize_proxy",
    "open_account",
    "owned_account",
    "provision_card",
    "resolve_proxy",
    "signed_deny_list",
    "signed_trust_list",
    "top_up",
    "top_up_payload",
    "unlink_proxy",
]
