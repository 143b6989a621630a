"""Registry reads and idempotent writes over the participants, devices and
media tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from clearing.storage.models import (
    AuditorScopeRow,
    CardRow,
    CardSchemeRow,
    DeviceRow,
    MediumRow,
    ParticipantRow,
)
from clearing.values import (
    Device,
    MediumToken,
    Mode,
    Participant,
    ParticipantId,
    Role,
    check_currency,
)

MAX_ID_LENGTH = 64


def _check_id(value: str, field: str) -> None:
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable() or value != value.strip():
        raise InvalidRequestError(
            f"{field} must be 1 to {MAX_ID_LENGTH} printable characters without surrounding "
            f"spaces, not {value!r}",
            field=field,
        )


def _first_difference(stored: tuple[object, ...], wanted: tuple[object, ...]) -> str | None:
    fields: Sequence[str] = getattr(wanted, "_fields", ())
    for name, old, new in zip(fields, stored, wanted, strict=True):
        if old != new:
            return name
    return None


def _participant(row: ParticipantRow, scope: tuple[str, ...] = ()) -> Participant:
    return Participant(
        row.participant_id, row.display_name, Role(row.role), row.settlement_currency, scope
    )


def _scope(session: Session, auditor_id: str) -> tuple[str, ...]:
    query = select(AuditorScopeRow.participant_id).where(AuditorScopeRow.auditor_id == auditor_id)
    return tuple(sorted(session.scalars(query)))


def _device(row: DeviceRow) -> Device:
    return Device(row.device_id, row.operator_id, row.public_key, row.stop_id, Mode(row.mode))


def participant_for(session: Session, participant_id: ParticipantId) -> Participant | None:
    row = session.get(ParticipantRow, participant_id)
    if row is None:
        return None
    scope = _scope(session, participant_id) if row.role == Role.AUDITOR.value else ()
    return _participant(row, scope)


def register_participant(session: Session, wanted: Participant, now: datetime) -> Participant:
    _check_id(wanted.participant_id, "participant_id")
    check_currency(wanted.settlement_currency)
    if not wanted.display_name:
        raise InvalidRequestError("display_name must not be empty", field="display_name")
    if wanted.audit_scope and wanted.role is not Role.AUDITOR:
        raise InvalidRequestError("only an auditor has an audit scope", field="audit_scope")
    wanted = wanted._replace(audit_scope=tuple(sorted(set(wanted.audit_scope))))
    stored = participant_for(session, wanted.participant_id)
    if stored is not None:
        differing = _first_difference(stored, wanted)
        if differing is not None:
            raise ConflictError(
                f"participant {wanted.participant_id!r} exists with a different {differing}",
                field=differing,
            )
        return stored
    session.add(
        ParticipantRow(
            participant_id=wanted.participant_id,
            display_name=wanted.display_name,
            role=wanted.role.value,
            settlement_currency=wanted.settlement_currency,
            registered_at=now,
        )
    )
    if wanted.audit_scope:
        session.flush()
        session.add_all(
            AuditorScopeRow(auditor_id=wanted.participant_id, participant_id=p)
            for p in wanted.audit_scope
        )
    return wanted


def ensure_participant(session: Session, wanted: Participant, now: datetime) -> Participant:
    """Registers ``wanted`` unless a participant with its id exists already."""
    return participant_for(session, wanted.participant_id) or register_participant(
        session, wanted, now
    )


def list_participants(session: Session) -> list[Participant]:
    rows = session.scalars(select(ParticipantRow).order_by(ParticipantRow.participant_id))
    return [
        _participant(row, _scope(session, row.participant_id) if row.role == "auditor" else ())
        for row in rows
    ]


def device_for(session: Session, device_id: str) -> Device | None:
    row = session.get(DeviceRow, device_id)
    return None if row is None else _device(row)


def register_device(session: Session, wanted: Device, now: datetime) -> Device:
    _check_id(wanted.device_id, "device_id")
    if len(wanted.public_key) != 32:
        raise InvalidRequestError(
            "public_key must be a raw 32-byte Ed25519 key", field="public_key"
        )
    owner = participant_for(session, wanted.operator_id)
    if owner is None:
        raise NotFoundError(f"operator {wanted.operator_id!r} is not registered")
    if owner.role is not Role.OPERATOR:
        raise ForbiddenError(f"{wanted.operator_id!r} is a {owner.role}, not an operator")
    stored = device_for(session, wanted.device_id)
    if stored is not None:
        differing = _first_difference(stored, wanted)
        if differing is not None:
            raise ConflictError(
                f"device {wanted.device_id!r} exists with a different {differing}",
                field=differing,
            )
        return stored
    session.add(
        DeviceRow(
            device_id=wanted.device_id,
            operator_id=wanted.operator_id,
            public_key=wanted.public_key,
            stop_id=wanted.stop_id,
            mode=wanted.mode.value,
            registered_at=now,
        )
    )
    return wanted


def list_devices(session: Session, operator_id: ParticipantId | None) -> list[Device]:
    query = select(DeviceRow).order_by(DeviceRow.device_id)
    if operator_id:
        query = query.where(DeviceRow.operator_id == operator_id)
    return [_device(row) for row in session.scalars(query)]


def register_medium(
    session: Session,
    medium_token: MediumToken,
    issuer_id: ParticipantId,
    now: datetime,
    card_uid: bytes = b"",
) -> tuple[MediumToken, ParticipantId]:
    """Registers a medium; with ``card_uid`` also a stored-value card, whose
    debit MACs clearing then verifies under its diversified key."""
    if card_uid and len(card_uid) not in (4, 7, 10):
        raise InvalidRequestError("card_uid must be 4, 7 or 10 bytes", field="card_uid")
    if not medium_token or len(medium_token) > 128:
        raise InvalidRequestError("medium_token must be 1 to 128 characters", field="medium_token")
    issuer = participant_for(session, issuer_id)
    if issuer is None or issuer.role is not Role.ISSUER:
        raise ForbiddenError(f"{issuer_id!r} is not a registered issuer")
    stored = session.get(MediumRow, medium_token)
    if stored is not None:
        if stored.issuer_id != issuer_id:
            raise ConflictError(
                f"medium {medium_token!r} belongs to another issuer", field="issuer_id"
            )
        card = session.get(CardRow, medium_token)
        if bytes(card.card_uid if card else b"") != card_uid:
            raise ConflictError(f"medium {medium_token!r} has another card uid", field="card_uid")
        return medium_token, issuer_id
    session.add(MediumRow(medium_token=medium_token, issuer_id=issuer_id, registered_at=now))
    if card_uid:
        session.flush()
        session.add(CardRow(medium_token=medium_token, card_uid=card_uid, registered_at=now))
    return medium_token, issuer_id


def register_card_scheme(
    session: Session,
    issuer_id: ParticipantId,
    *,
    aid: bytes,
    system_identifier: bytes,
    master_key: bytes,
    now: datetime,
) -> None:
    """Stores how the issuer diversifies card keys; idempotent."""
    if len(master_key) != 16:
        raise InvalidRequestError("master_key must be 16 bytes (AES-128)", field="master_key")
    if not aid or len(aid) > 16:
        raise InvalidRequestError("aid must be 1 to 16 bytes", field="aid")
    if len(aid) + len(system_identifier) + 7 > 31:
        raise InvalidRequestError(
            "uid, aid and system identifier may total 31 bytes (AN10922)",
            field="system_identifier",
        )
    stored = session.get(CardSchemeRow, issuer_id)
    wanted = (aid, system_identifier, master_key)
    if stored is not None:
        kept = (bytes(stored.aid), bytes(stored.system_identifier), bytes(stored.master_key))
        for name, old, new in zip(
            ("aid", "system_identifier", "master_key"), kept, wanted, strict=True
        ):
            if old != new:
                raise ConflictError(f"the card scheme has a different {name}", field=name)
        return
    session.add(
        CardSchemeRow(
            issuer_id=issuer_id, aid=aid, system_identifier=system_identifier,
            master_key=master_key, registered_at=now,
        )
    )  # fmt: skip


def issuer_of_media(
    session: Session, tokens: Iterable[MediumToken]
) -> dict[MediumToken, ParticipantId]:
    """The issuer behind each known token; unknown tokens are absent."""
    wanted = sorted(set(tokens))
    if not wanted:
        return {}
    query = select(MediumRow.medium_token, MediumRow.issuer_id).where(
        MediumRow.medium_token.in_(wanted)
    )
    return dict(session.execute(query).all())
