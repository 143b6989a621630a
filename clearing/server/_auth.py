"""Authentication and authorization, as one interceptor.

The caller is the common name of its client certificate, which the TLS layer
has already verified against the farebridge CA. The interceptor looks that
name up in the registry and checks the method's role policy before any
servicer code runs; ownership (this device, this rider) is checked by the
servicer, which knows the resource.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc

from clearing import registry
from clearing.server._handlers import MethodInterceptor
from clearing.server._status import abort, error_info
from clearing.storage import Database
from clearing.values import Participant, Role

ANY_ROLE = frozenset(Role)

# Fail closed: a farebridge method missing from this table is refused.
METHOD_ROLES: Mapping[str, frozenset[Role]] = {
    "/farebridge.v1.ReaderService/SubmitTaps": frozenset({Role.OPERATOR}),
    "/farebridge.v1.ReaderService/GetTrustList": frozenset({Role.OPERATOR, Role.CLEARING_HOUSE}),
    "/farebridge.v1.ReaderService/GetDenyList": frozenset({Role.OPERATOR, Role.CLEARING_HOUSE}),
    "/farebridge.v1.RegistryService/RegisterParticipant": frozenset({Role.CLEARING_HOUSE}),
    "/farebridge.v1.RegistryService/RegisterDevice": frozenset(
        {Role.OPERATOR, Role.CLEARING_HOUSE}
    ),
    "/farebridge.v1.RegistryService/RegisterMedium": frozenset({Role.ISSUER}),
    "/farebridge.v1.RegistryService/RegisterCardScheme": frozenset({Role.ISSUER}),
    "/farebridge.v1.RegistryService/ListParticipants": ANY_ROLE,
    "/farebridge.v1.RegistryService/ListDevices": frozenset(
        {Role.OPERATOR, Role.CLEARING_HOUSE, Role.AUDITOR}
    ),
    "/farebridge.v1.ClearingService/SetFlatFare": frozenset({Role.CLEARING_HOUSE}),
    "/farebridge.v1.ClearingService/CloseCycle": frozenset({Role.CLEARING_HOUSE}),
    "/farebridge.v1.ClearingService/GetPositions": ANY_ROLE,
    # The signed multilateral result is the evidence every member checks.
    "/farebridge.v1.ClearingService/GetSettlementReport": ANY_ROLE,
    "/farebridge.v1.ClearingService/PublishFxRates": frozenset({Role.CLEARING_HOUSE}),
    "/farebridge.v1.ClearingService/SetFeeSchedule": frozenset({Role.CLEARING_HOUSE}),
    "/farebridge.v1.ClearingService/RecordAgentTopUp": frozenset({Role.OPERATOR}),
    # Tree heads and proofs are public to every participant: that is what
    # makes them evidence. The full export is for auditors and the house.
    "/farebridge.v1.AuditService/GetCheckpoint": ANY_ROLE,
    "/farebridge.v1.AuditService/ListCheckpoints": ANY_ROLE,
    "/farebridge.v1.AuditService/GetInclusionProof": ANY_ROLE,
    "/farebridge.v1.AuditService/GetConsistencyProof": ANY_ROLE,
    "/farebridge.v1.AuditService/ExportTransfers": frozenset({Role.AUDITOR, Role.CLEARING_HOUSE}),
    "/farebridge.v1.AuditService/Reconcile": frozenset({Role.AUDITOR, Role.CLEARING_HOUSE}),
    # Wallet providers only; each servicer method acts on the caller's riders.
    **{
        f"/farebridge.v1.WalletService/{name}": frozenset({Role.ISSUER})
        for name in (
            "OpenAccount",
            "LinkProxy",
            "UnlinkProxy",
            "ResolveProxy",
            "TopUp",
            "GetTopUpQr",
            "ProvisionVirtualCard",
            "IssueRideCredential",
            "Block",
            "Unblock",
            "GetBalance",
            "ListJourneys",
            "ScanToPay",
        )
    },
}


def certificate_identity(context: grpc.ServicerContext) -> str | None:
    names: Sequence[bytes] = context.auth_context().get("x509_common_name") or []  # type: ignore[assignment]  # the stubs say bytes; gRPC returns a list of bytes
    return names[0].decode() if names else None


class ParticipantDirectory:
    """Participants by id, cached once found: a participant's role never
    changes after admission, so a cache hit can never be stale."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._known: dict[str, Participant] = {}
        self._lock = threading.Lock()

    def find(self, participant_id: str) -> Participant | None:
        with self._lock:
            known = self._known.get(participant_id)
        if known is not None:
            return known
        with self._database.transaction() as session:
            found = registry.participant_for(session, participant_id)
        if found is not None:
            with self._lock:
                self._known[participant_id] = found
        return found


def caller(context: grpc.ServicerContext, directory: ParticipantDirectory) -> Participant:
    """The authenticated, registered participant behind this call, or abort."""
    identity = certificate_identity(context)
    if identity is None:
        abort(
            context,
            grpc.StatusCode.UNAUTHENTICATED,
            "a client certificate with a common name is required",
            error_info("CLIENT_CERTIFICATE_REQUIRED"),
        )
    participant = directory.find(identity)
    if participant is None:
        abort(
            context,
            grpc.StatusCode.UNAUTHENTICATED,
            f"certificate identity {identity!r} is not a registered participant",
            error_info("UNKNOWN_PARTICIPANT", participant_id=identity),
        )
    return participant


def _authorized(
    behavior: Callable[..., Any], method: str, directory: ParticipantDirectory
) -> Callable[..., Any]:
    allowed = METHOD_ROLES.get(method, frozenset())

    def guarded(request: Any, context: grpc.ServicerContext) -> Any:
        participant = caller(context, directory)
        if participant.role not in allowed:
            abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"role {participant.role} may not call {method}",
                error_info("ROLE_NOT_ALLOWED", role=participant.role.value, method=method),
            )
        return behavior(request, context)

    return guarded


class AuthInterceptor(MethodInterceptor):
    """Admits a farebridge call only for a registered participant whose role
    the method allows. Health and reflection stay open to any client that
    passed the mTLS handshake."""

    def __init__(self, directory: ParticipantDirectory) -> None:
        self._directory = directory

    def wrap(
        self, behavior: Callable[..., Any], method: str, request_streaming: bool
    ) -> Callable[..., Any]:
        return _authorized(behavior, method, self._directory)
