"""The versioned deny list: what readers must refuse.

Every block and unblock is one row of ``deny_list_changes`` whose version is
the previous one plus one (the primary key makes two concurrent changes
serialize: the loser retries). This is a control action of the clearing
house, never on the tap path, so one global sequence costs nothing there.
A reader asks what changed since the version it holds; from version 0 it
also gets the whole list, signed by the clearing house.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.errors import ForbiddenError, InvalidRequestError, NotFoundError
from clearing.storage.models import DenyListChangeRow, MediumRow, RideCredentialRow
from clearing.values import ParticipantId
from clearing.wallets._values import check_reason, check_serial
from farebridge.codecs.ridecode import CredentialId, DenyList, sign_deny_list

MAX_DENIED_TOKEN = 64
"""The deny list format carries rider tokens of at most 64 characters."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DenyEntry = str | CredentialId
"""A rider token, or one credential."""


class DenyChange(NamedTuple):
    """The answer to a block or unblock: the version that carries the
    target's state, and whether this call changed it."""

    version: int
    changed: bool


class DenyDelta(NamedTuple):
    """What a reader at ``since`` must add and remove to be at ``version``."""

    version: int
    added: tuple[DenyEntry, ...]
    removed: tuple[DenyEntry, ...]


def _entry(row: DenyListChangeRow) -> DenyEntry:
    if row.medium_token is not None:
        return row.medium_token
    assert row.serial is not None  # the one_target check constraint
    return CredentialId(row.issuer_id, row.serial)


def _check_target(session: Session, issuer_id: ParticipantId, target: DenyEntry) -> None:
    if isinstance(target, CredentialId):
        check_serial(target.serial, "credential_serial")
        if session.get(RideCredentialRow, (issuer_id, target.serial)) is None:
            raise NotFoundError(f"you issued no credential with serial {target.serial}")
        return
    medium = session.get(MediumRow, target)
    if medium is None:
        raise NotFoundError(f"no medium {target!r} is registered")
    if medium.issuer_id != issuer_id:
        raise ForbiddenError(f"medium {target!r} belongs to another issuer")
    if len(target) > MAX_DENIED_TOKEN:
        raise InvalidRequestError(
            f"a denied token has at most {MAX_DENIED_TOKEN} characters", field="medium_token"
        )


def _last_change(session: Session, target: DenyEntry) -> DenyListChangeRow | None:
    query = select(DenyListChangeRow)
    if isinstance(target, CredentialId):
        query = query.where(
            DenyListChangeRow.issuer_id == target.issuer_id,
            DenyListChangeRow.serial == target.serial,
        )
    else:
        query = query.where(DenyListChangeRow.medium_token == target)
    return session.scalars(query.order_by(DenyListChangeRow.version.desc()).limit(1)).first()


def current_version(session: Session) -> int:
    return int(session.scalar(select(func.max(DenyListChangeRow.version))) or 0)


def change_deny_list(
    session: Session,
    issuer_id: ParticipantId,
    target: DenyEntry,
    *,
    block: bool,
    reason: str,
    now: datetime,
) -> DenyChange:
    """Blocks or unblocks ``target``, a token or credential of ``issuer_id``.
    Asking for the state it is in already changes nothing and answers the
    version that put it there (or the current version, if never blocked)."""
    check_reason(reason)
    _check_target(session, issuer_id, target)
    last = _last_change(session, target)
    blocked = last is not None and last.action == "block"
    if blocked == block:
        return DenyChange(last.version if last is not None else current_version(session), False)
    version = current_version(session) + 1
    session.add(
        DenyListChangeRow(
            version=version,
            issuer_id=issuer_id,
            medium_token=None if isinstance(target, CredentialId) else target,
            serial=target.serial if isinstance(target, CredentialId) else None,
            action="block" if block else "unblock",
            reason=reason,
            changed_at=now,
        )
    )
    session.flush()
    return DenyChange(version, True)


def _changes_after(session: Session, since: int) -> list[DenyListChangeRow]:
    query = select(DenyListChangeRow).where(DenyListChangeRow.version > since)
    return list(session.scalars(query.order_by(DenyListChangeRow.version)))


def _final_states(rows: Iterable[DenyListChangeRow]) -> dict[DenyEntry, bool]:
    """Each entry's state after the last of ``rows`` that touched it."""
    return {_entry(row): row.action == "block" for row in rows}


def deny_list_delta(session: Session, since: int) -> DenyDelta:
    """Entries whose state changed after ``since``: a reader that adds
    ``added`` and drops ``removed`` holds the list at ``version``."""
    version = current_version(session)
    if not 0 <= since <= version:
        raise InvalidRequestError(
            f"since_version must be from 0 to the current version {version}",
            field="since_version",
        )
    states = _final_states(_changes_after(session, since))
    added = tuple(sorted((e for e, on in states.items() if on), key=repr))
    removed = tuple(sorted((e for e, on in states.items() if not on), key=repr))
    return DenyDelta(version, added, removed)


def deny_list_snapshot(session: Session) -> DenyList:
    """The whole list at the current version, dated by its last change."""
    rows = _changes_after(session, 0)
    denied = [entry for entry, on in _final_states(rows).items() if on]
    return DenyList(
        version=rows[-1].version if rows else 0,
        rider_tokens=frozenset(e for e in denied if isinstance(e, str)),
        serials=frozenset(e for e in denied if isinstance(e, CredentialId)),
        issued_at=rows[-1].changed_at if rows else _EPOCH,
    )


def signed_deny_list(session: Session, clearing_house_key: Ed25519PrivateKey) -> bytes:
    return sign_deny_list(clearing_house_key, deny_list_snapshot(session))
