"""The development PKI: what ``farebridge pki init`` leaves on disk, and that
running it again never replaces the trust anchor every party already holds."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from clearing.errors import InvalidRequestError
from clearing.pki import PkiLayout, check_participant_id, init_pki, issue_client


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _common_name(certificate: x509.Certificate) -> str:
    (attribute,) = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attribute.value)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file()
    }


@pytest.fixture
def pki(tmp_path: Path) -> PkiLayout:
    return init_pki(tmp_path / "pki", ["operator-metro", "issuer-sgd"])


def test_init_creates_ca_server_and_one_client_per_participant(pki: PkiLayout) -> None:
    for path in (pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key):
        assert path.is_file(), path
    for participant in ("operator-metro", "issuer-sgd"):
        assert pki.client_cert(participant).is_file()
        assert pki.client_key(participant).is_file()
    assert pki.client_ids() == ["issuer-sgd", "operator-metro"]


def test_private_keys_are_readable_by_the_owner_only(pki: PkiLayout) -> None:
    keys = [pki.ca_key, pki.server_key, *(pki.client_key(p) for p in pki.client_ids())]
    for key in keys:
        assert _mode(key) == 0o600, key
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)


def test_each_key_file_belongs_to_its_certificate(pki: PkiLayout) -> None:
    pairs = [(pki.ca_cert, pki.ca_key), (pki.server_cert, pki.server_key)]
    pairs += [(pki.client_cert(p), pki.client_key(p)) for p in pki.client_ids()]
    for cert_path, key_path in pairs:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert _cert(cert_path).public_key() == key.public_key(), cert_path


def test_running_again_keeps_the_ca_and_adds_only_new_participants(pki: PkiLayout) -> None:
    before = _snapshot(pki.directory)
    again = init_pki(pki.directory, ["operator-metro", "issuer-sgd", "operator-bus"])
    after = _snapshot(pki.directory)
    assert again.ca_cert.read_bytes() == before["ca.pem"]
    assert {name: after[name] for name in before} == before, "an existing file was rewritten"
    assert set(after) - set(before) == {
        "clients/operator-bus/cert.pem",
        "clients/operator-bus/key.pem",
    }
    assert again.client_ids() == ["issuer-sgd", "operator-bus", "operator-metro"]
    _cert(again.client_cert("operator-bus")).verify_directly_issued_by(_cert(again.ca_cert))


def test_client_certificate_names_the_participant_and_chains_to_the_ca(pki: PkiLayout) -> None:
    ca = _cert(pki.ca_cert)
    for participant in ("operator-metro", "issuer-sgd"):
        client = _cert(pki.client_cert(participant))
        assert _common_name(client) == participant
        client.verify_directly_issued_by(ca)
        usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
        assert not client.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_certificate_from_another_ca_does_not_chain(tmp_path: Path, pki: PkiLayout) -> None:
    stranger = init_pki(tmp_path / "other", ["operator-metro"])
    with pytest.raises(InvalidSignature):
        _cert(stranger.client_cert("operator-metro")).verify_directly_issued_by(_cert(pki.ca_cert))


def test_ca_is_a_ca_that_cannot_delegate(pki: PkiLayout) -> None:
    constraints = _cert(pki.ca_cert).extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0


def test_server_certificate_names_localhost_and_loopback(pki: PkiLayout) -> None:
    server = _cert(pki.server_cert)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    ca = _cert(pki.ca_cert)
    for name in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        verifier = (
            PolicyBuilder().store(Store([ca])).time(datetime.now(UTC)).build_server_verifier(name)
        )
        chain = verifier.verify(server, [])
        assert chain[-1] == ca


def test_server_certificate_names_the_hosts_asked_for(tmp_path: Path) -> None:
    layout = init_pki(tmp_path, [], hosts=["clearing.example", "10.0.0.7"])
    names = _cert(layout.server_cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert names.value.get_values_for_type(x509.DNSName) == ["clearing.example"]
    assert names.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]


def test_issue_client_reissues_under_the_same_ca(pki: PkiLayout) -> None:
    old = pki.client_cert("operator-metro").read_bytes()
    issue_client(pki, "operator-metro")
    new = _cert(pki.client_cert("operator-metro"))
    assert new.public_bytes(serialization.Encoding.PEM) != old
    new.verify_directly_issued_by(_cert(pki.ca_cert))
    assert _mode(pki.client_key("operator-metro")) == 0o600


@pytest.mark.parametrize(
    "participant_id",
    ["", "-leading-dash", ".hidden", "has space", "a/b", "../escape", "x" * 65, "caf\u00e9"],
)
def test_invalid_participant_ids_are_refused(tmp_path: Path, participant_id: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        init_pki(tmp_path, ["operator-metro", participant_id])
    assert refused.value.field == "participant_id"
    assert not any(tmp_path.iterdir()), "a refused init must not leave half a PKI behind"


@pytest.mark.parametrize("participant_id", ["a", "operator-metro", "Op_1.sg", "x" * 64])
def test_valid_participant_ids_are_accepted(participant_id: str) -> None:
    assert check_participant_id(participant_id) == participant_id


def test_a_trailing_newline_is_not_a_valid_participant_id() -> None:
    with pytest.raises(InvalidRequestError):
        check_participant_id("alice\n")


def test_every_participant_gets_its_own_certificate(tmp_path: Path) -> None:
    layout = init_pki(tmp_path, ["bob", "bob-key"])
    for participant in ("bob", "bob-key"):
        assert _common_name(_cert(layout.client_cert(participant))) == participant
    assert layout.client_ids() == ["bob", "bob-key"]
