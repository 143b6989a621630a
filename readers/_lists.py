"""``ListSync``: keeps a reader's ``RideCodeGate`` on the clearing house's
current trust list and deny list.

The trust list is small and always downloaded whole, signed by the clearing
house. The deny list is downloaded whole and signed once (from version 0),
then followed by deltas: what was added and removed since the version the
reader holds, over the same mutual-TLS channel that authenticates the
clearing house. A gate never goes back to an older list.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from farebridge.codecs.ridecode import (
    DEFAULT_FRESHNESS,
    DEFAULT_FUTURE_SKEW,
    CredentialId,
    DenyList,
    SignedListError,
    TrustList,
    open_deny_list,
    open_trust_list,
)
from farebridge.v1 import reader_service_pb2, reader_service_pb2_grpc
from readers._connection import ServerConnection
from readers._errors import ReaderError
from readers._ridecodes import RideCodeGate


class ListSyncReport(NamedTuple):
    """What one refresh did.

    trust_list_version / deny_list_version: the versions the gate now holds.
    added / removed: deny list entries that changed (a full download counts
    every entry as added).
    """

    trust_list_version: int
    deny_list_version: int
    added: int
    removed: int


def _entry(message: reader_service_pb2.DenyListEntry) -> str | CredentialId:
    if message.WhichOneof("entry") == "credential":
        return CredentialId(message.credential.issuer_id, message.credential.serial)
    return message.rider_token


class ListSync:
    """Downloads the lists for one reader and applies them to its gate.

    ``clearing_house_key`` is the clearing house's Ed25519 public key, the
    one key a reader must hold to believe the lists. Threads may share it.
    """

    def __init__(
        self,
        connection: ServerConnection,
        clearing_house_key: Ed25519PublicKey,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._connection = connection
        self._key = clearing_house_key
        self._timeout = timeout
        self._lock = threading.Lock()

    def fetch_trust_list(self) -> TrustList:
        """The current trust list, its signature verified; ReaderError if not."""
        with self._connection.channel() as channel:
            stub = reader_service_pb2_grpc.ReaderServiceStub(channel)
            answer = stub.GetTrustList(
                reader_service_pb2.GetTrustListRequest(), timeout=self._timeout
            )
        try:
            return open_trust_list(answer.signed_trust_list, self._key)
        except SignedListError as error:
            raise ReaderError(f"the trust list is not the clearing house's: {error}") from None

    def fetch_deny_list(self, held: DenyList | None = None) -> tuple[DenyList, int, int]:
        """The current deny list, with the counts added and removed: from
        ``held`` by a delta, or (``held`` None) whole and signature-checked."""
        since = 0 if held is None else held.version
        with self._connection.channel() as channel:
            stub = reader_service_pb2_grpc.ReaderServiceStub(channel)
            answer = stub.GetDenyList(
                reader_service_pb2.GetDenyListRequest(since_version=since), timeout=self._timeout
            )
        if held is None:
            try:
                whole = open_deny_list(answer.signed_snapshot, self._key)
            except SignedListError as error:
                raise ReaderError(f"the deny list is not the clearing house's: {error}") from None
            return whole, len(whole.rider_tokens) + len(whole.serials), 0
        return _applied(held, answer), len(answer.added), len(answer.removed)

    def new_gate(
        self,
        *,
        freshness: timedelta = DEFAULT_FRESHNESS,
        future_skew: timedelta = DEFAULT_FUTURE_SKEW,
    ) -> RideCodeGate:
        """A gate loaded with freshly downloaded lists."""
        trust_list = self.fetch_trust_list()
        deny_list, _, _ = self.fetch_deny_list()
        return RideCodeGate(trust_list, deny_list, freshness=freshness, future_skew=future_skew)

    def refresh(self, gate: RideCodeGate) -> ListSyncReport:
        """Brings ``gate`` up to date; the deny list by a delta from the
        version the gate holds (0: a whole, signed download). Raises
        ``grpc.RpcError`` when the clearing house is unreachable and
        ReaderError for a list that fails its checks; the gate keeps its
        lists either way."""
        with self._lock:
            trust_list = self.fetch_trust_list()
            held = gate.deny_list if gate.deny_list.version > 0 else None
            deny_list, added, removed = self.fetch_deny_list(held)
            if trust_list.version > gate.trust_list.version:
                gate.replace_trust_list(trust_list)
            gate.replace_deny_list(deny_list)
        return ListSyncReport(gate.trust_list.version, gate.deny_list.version, added, removed)


def _applied(held: DenyList, answer: reader_service_pb2.GetDenyListResponse) -> DenyList:
    if answer.version < held.version:
        raise ReaderError(
            f"the clearing house answered deny list version {answer.version}, "
            f"older than version {held.version} held"
        )
    added = [_entry(m) for m in answer.added]
    removed = {_entry(m) for m in answer.removed}
    tokens = (held.rider_tokens | {e for e in added if isinstance(e, str)}) - removed
    serials = (held.serials | {e for e in added if isinstance(e, CredentialId)}) - removed
    return DenyList(answer.version, frozenset(tokens), frozenset(serials), held.issued_at)
