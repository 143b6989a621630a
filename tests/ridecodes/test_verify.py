"""What a gate relies on: genuine fresh codes pass once, and every kind of
forgery, copy, block or clock trouble is refused with its own reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.ridecode import (
    CredentialId,
    DenyList,
    RejectReason,
    ReplayedCodeError,
    RevokedCredentialError,
    RideCodeArgumentError,
    RideCodeError,
    RideCodeRejectedError,
    SignedListError,
    UnreadableCodeError,
    UntimelyCodeError,
    UntrustedCodeError,
    b45decode,
    b45encode,
    check_code,
    decode_code,
    encode_code,
    generate_code,
    issue_credential,
    open_trust_list,
    sign_trust_list,
)

from .conftest import T0, Scene, named_key


def _refusal(scene: Scene, text: str, seconds: float, **windows: timedelta) -> RejectReason:
    with pytest.raises(RideCodeRejectedError) as refused:
        scene.scan(text, seconds, **windows)
    return refused.value.reason


def test_a_fresh_code_says_whom_to_charge(scene: Scene) -> None:
    bo = scene.rider("tok-bo", issuer="payroute", category="child", serial=77)
    ride = scene.scan(bo.code(0, 1), 3)
    assert (ride.rider_token, ride.issuer_id, ride.category) == ("tok-bo", "payroute", "child")
    assert (ride.serial, ride.counter, ride.timestamp) == (77, 1, T0)
    assert ride.credential_id == CredentialId("payroute", 77)


def test_code_timestamps_keep_milliseconds(scene: Scene) -> None:
    ana = scene.rider()
    text = generate_code(ana.credential, ana.key, T0 + timedelta(microseconds=1_999), 1)
    assert decode_code(text).timestamp == T0 + timedelta(milliseconds=1)


def test_credential_signed_with_a_key_other_than_the_issuers(scene: Scene) -> None:
    impostor = scene.rider(signed_by=named_key("rogue"))
    assert _refusal(scene, impostor.code(0, 1), 1) == RejectReason.BAD_ISSUER_SIGNATURE


def test_code_signed_by_another_phone(scene: Scene) -> None:
    ana, eve = scene.rider("tok-ana"), scene.rider("tok-eve")
    genuine = decode_code(ana.code(0, 1))
    stolen_credential = decode_code(eve.code(0, 1)).credential
    spliced = encode_code(
        type(genuine)(stolen_credential, genuine.timestamp, 1, genuine.rider_signature)
    )
    assert _refusal(scene, spliced, 1) == RejectReason.BAD_RIDER_SIGNATURE


def test_a_phone_cannot_sign_for_a_credential_naming_another_key(scene: Scene) -> None:
    ana, eve = scene.rider("tok-ana"), scene.rider("tok-eve")
    with pytest.raises(RideCodeArgumentError):
        generate_code(ana.credential, eve.key, T0, 1)


@given(data=st.data())
def test_any_altered_byte_is_refused(data: st.DataObject) -> None:
    scene = Scene()
    payload = bytearray(b45decode(scene.rider().code(0, 5)[4:]))
    position = data.draw(st.integers(0, len(payload) - 1), label="position")
    payload[position] ^= data.draw(st.integers(1, 255), label="xor")
    with pytest.raises(RideCodeRejectedError) as refused:
        scene.scan("FB1:" + b45encode(bytes(payload)), 1)
    assert refused.value.reason in {
        RejectReason.MALFORMED,
        RejectReason.UNSUPPORTED_VERSION,
        RejectReason.UNKNOWN_ISSUER,
        RejectReason.BAD_ISSUER_SIGNATURE,
        RejectReason.BAD_RIDER_SIGNATURE,
    }
    assert len(scene.guard) == 0


@given(cut=st.integers(1, 330))
def test_any_truncation_is_malformed(cut: int) -> None:
    scene = Scene()
    text = scene.rider().code(0, 5)
    cut = min(cut, len(text) - 1)
    assert _refusal(scene, text[:-cut], 1) in {
        RejectReason.MALFORMED,
        RejectReason.UNSUPPORTED_VERSION,
    }


def test_expired_credential(scene: Scene) -> None:
    ana = scene.rider(expires_in=timedelta(seconds=9.75))  # T0 is 08:00:00.250
    assert ana.credential.expires_at == datetime(2026, 3, 2, 8, 0, 10, tzinfo=UTC)
    assert scene.scan(ana.code(5, 1), 9.749).counter == 1
    assert _refusal(scene, ana.code(6, 2), 9.75) == RejectReason.EXPIRED_CREDENTIAL


def test_a_code_dated_after_expiry_is_refused_even_by_a_slow_reader_clock(scene: Scene) -> None:
    ana = scene.rider(expires_in=timedelta(seconds=10))
    assert _refusal(scene, ana.code(11, 1), 1) == RejectReason.EXPIRED_CREDENTIAL


def test_stale_code(scene: Scene) -> None:
    ana = scene.rider()
    assert _refusal(scene, ana.code(0, 1), 60.001) == RejectReason.STALE


def test_freshness_window_is_configurable(scene: Scene) -> None:
    ana = scene.rider()
    assert scene.scan(ana.code(0, 1), 100, freshness=timedelta(minutes=2)).counter == 1
    assert _refusal(scene, ana.code(0, 2), 11, freshness=timedelta(seconds=10)) == (
        RejectReason.STALE
    )


def test_future_dated_beyond_skew(scene: Scene) -> None:
    ana = scene.rider()
    assert _refusal(scene, ana.code(30.001, 1), 0) == RejectReason.FUTURE_DATED
    assert _refusal(scene, ana.code(2, 2), 0, future_skew=timedelta(seconds=1)) == (
        RejectReason.FUTURE_DATED
    )


def test_same_code_twice_is_replayed(scene: Scene) -> None:
    text = scene.rider().code(0, 1)
    scene.scan(text, 1)
    assert _refusal(scene, text, 2) == RejectReason.REPLAYED


def test_a_copy_is_replayed_up_to_the_last_moment_it_is_fresh(scene: Scene) -> None:
    text = scene.rider().code(0, 1)
    scene.scan(text, 1)
    assert _refusal(scene, text, 60) == RejectReason.REPLAYED
    assert _refusal(scene, text, 60.001) == RejectReason.STALE


def test_a_lower_counter_after_a_higher_one_is_replayed(scene: Scene) -> None:
    ana = scene.rider()
    scene.scan(ana.code(1, 9), 2)
    assert _refusal(scene, ana.code(3, 8), 4) == RejectReason.REPLAYED
    assert scene.scan(ana.code(5, 10), 6).counter == 10


def test_counters_are_per_credential(scene: Scene) -> None:
    scene.scan(scene.rider(serial=1).code(0, 9), 1)
    assert scene.scan(scene.rider(serial=2).code(0, 1), 1).serial == 2
    same_serial_other_issuer = scene.rider("tok-bo", issuer="payroute", serial=1)
    assert scene.scan(same_serial_other_issuer.code(0, 1), 1).issuer_id == "payroute"


def test_issuer_not_on_the_trust_list(scene: Scene) -> None:
    stranger = scene.rider(issuer="nightbus")
    assert _refusal(scene, stranger.code(0, 1), 1) == RejectReason.UNKNOWN_ISSUER


def test_trust_list_signed_by_someone_else_does_not_open(scene: Scene) -> None:
    forged = sign_trust_list(
        named_key("not the clearing house"),
        {"nightbus": named_key("nightbus").public_key()},
        version=99,
        issued_at=T0,
    )
    with pytest.raises(SignedListError):
        open_trust_list(forged, scene.clearing_house.public_key())


def test_denied_rider_token(scene: Scene) -> None:
    scene.deny_list = DenyList(version=2, rider_tokens=frozenset({"tok-dee"}))
    assert _refusal(scene, scene.rider("tok-dee").code(0, 1), 1) == RejectReason.DENIED
    assert scene.scan(scene.rider("tok-ana").code(0, 1), 1).rider_token == "tok-ana"


def test_denied_credential_serial(scene: Scene) -> None:
    scene.deny_list = DenyList(version=2, serials=frozenset({CredentialId("tapwallet", 4)}))
    assert _refusal(scene, scene.rider(serial=4).code(0, 1), 1) == RejectReason.DENIED
    assert scene.scan(scene.rider(serial=5).code(0, 1), 1).serial == 5
    assert scene.scan(scene.rider(issuer="payroute", serial=4).code(0, 1), 1).serial == 4


def test_first_failed_check_is_the_reason(scene: Scene) -> None:
    """A forged code is reported as forged, not as late: what an unsigned
    field says is never reported as if it were true."""
    scene.deny_list = DenyList(version=2, rider_tokens=frozenset({"tok-dee"}))
    forged_stale_denied = scene.rider("tok-dee", signed_by=named_key("rogue")).code(0, 1)
    assert _refusal(scene, forged_stale_denied, 500) == RejectReason.BAD_ISSUER_SIGNATURE
    expired_and_denied = scene.rider("tok-dee", expires_in=timedelta(seconds=1)).code(0, 1)
    assert _refusal(scene, expired_and_denied, 500) == RejectReason.DENIED


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (RejectReason.MALFORMED, UnreadableCodeError),
        (RejectReason.UNKNOWN_ISSUER, UntrustedCodeError),
        (RejectReason.EXPIRED_CREDENTIAL, RevokedCredentialError),
        (RejectReason.STALE, UntimelyCodeError),
        (RejectReason.REPLAYED, ReplayedCodeError),
    ],
)
def test_each_reason_raises_the_class_that_says_what_to_do(
    scene: Scene, reason: RejectReason, kind: type[RideCodeRejectedError]
) -> None:
    ana = scene.rider()
    short_lived = scene.rider("tok-cy", expires_in=timedelta(seconds=30))
    texts = {
        RejectReason.MALFORMED: ("FB1:!", 1),
        RejectReason.UNKNOWN_ISSUER: (scene.rider(issuer="nightbus").code(0, 1), 1),
        RejectReason.EXPIRED_CREDENTIAL: (short_lived.code(0, 1), 31),
        RejectReason.STALE: (ana.code(0, 2), 61),
        RejectReason.REPLAYED: (ana.code(0, 0), 1),
    }
    scene.scan(ana.code(0, 3), 1)
    text, seconds = texts[reason]
    with pytest.raises(kind) as refused:
        scene.scan(text, seconds)
    assert refused.value.reason == reason
    assert isinstance(refused.value, RideCodeError)


def test_check_code_is_pure(scene: Scene) -> None:
    """The clearing house re-checks reported codes without a reader's memory."""
    text = scene.rider().code(0, 1)
    now = T0 + timedelta(seconds=1)
    first = check_code(text, scene.trust_list, scene.deny_list, now)
    assert check_code(text, scene.trust_list, scene.deny_list, now) == first


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rider_token", "tok with space"),
        ("rider_token", "x" * 65),
        ("issuer_id", ""),
        ("category", "catégorie"),
        ("serial", -1),
        ("serial", 2**64),
        ("expires_at", datetime(2026, 4, 1)),
    ],
)
def test_issuing_refuses_what_the_format_cannot_carry(field: str, value: object) -> None:
    arguments: dict[str, object] = {
        "issuer_id": "tapwallet",
        "rider_token": "tok-ana",
        "category": "adult",
        "expires_at": datetime(2026, 4, 1, tzinfo=UTC),
        "serial": 1,
        field: value,
    }
    with pytest.raises(RideCodeArgumentError, match=field):
        issue_credential(named_key("tapwallet"), rider_public_key=bytes(32), **arguments)  # type: ignore[arg-type]


def test_counter_must_fit_four_bytes(scene: Scene) -> None:
    ana = scene.rider()
    assert decode_code(ana.code(0, 2**32 - 1)).counter == 2**32 - 1
    with pytest.raises(RideCodeArgumentError, match="counter"):
        ana.code(0, 2**32)


def test_reader_clock_must_be_timezone_aware(scene: Scene) -> None:
    with pytest.raises(RideCodeArgumentError, match="now"):
        check_code(
            scene.rider().code(0, 1), scene.trust_list, scene.deny_list, T0.replace(tzinfo=None)
        )


@given(
    token=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
    ),
    serial=st.integers(0, 2**64 - 1),
    counter=st.integers(0, 2**32 - 1),
    millis=st.integers(0, 10**6),
)
def test_decode_inverts_generate(token: str, serial: int, counter: int, millis: int) -> None:
    ana = Scene().rider(token, serial=serial)
    text = ana.code(millis / 1000, counter)
    code = decode_code(text)
    assert (code.credential, code.counter) == (ana.credential, counter)
    assert code.timestamp == T0 + timedelta(milliseconds=millis)
    assert encode_code(code) == text
    assert set(text[4:]) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
