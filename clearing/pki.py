"""A development public-key infrastructure for mTLS.

``farebridge pki init`` makes a certificate authority, a server certificate
and one client certificate per participant. A participant's identity is its
certificate's common name; the registry decides what that identity may do.
Production deployments bring certificates from their own CA in the same
layout.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from clearing.errors import InvalidRequestError, NotFoundError
from farebridge.codecs import generate_device_key, load_private_key_pem, private_key_pem

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
_VALIDITY = timedelta(days=825)  # the longest leaf lifetime browsers ever accepted
_PARTICIPANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class PkiLayout:
    """Where each file of a PKI directory lives."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def signing_key(self) -> Path:
        """The clearing house's Ed25519 key for tree heads and reports."""
        return self.directory / "signing-key.pem"

    def client_cert(self, participant_id: str) -> Path:
        """One folder per participant, so no id can name another's file."""
        return self.directory / "clients" / participant_id / "cert.pem"

    def client_key(self, participant_id: str) -> Path:
        return self.directory / "clients" / participant_id / "key.pem"

    def client_ids(self) -> list[str]:
        folder = self.directory / "clients"
        if not folder.is_dir():
            return []
        return sorted(p.parent.name for p in folder.glob("*/cert.pem"))


def check_participant_id(participant_id: str) -> str:
    if not _PARTICIPANT_ID.fullmatch(participant_id):
        raise InvalidRequestError(
            f"participant id {participant_id!r} must be 1 to 64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit",
            field="participant_id",
        )
    return participant_id


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _write_public(path: Path, certificate: x509.Certificate) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "farebridge"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: str, issuer: x509.Name, public: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _load_ca(layout: PkiLayout) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    certificate = x509.load_pem_x509_certificate(layout.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(layout.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidRequestError(f"{layout.ca_key} is not an EC private key", field="ca_key")
    return certificate, key


def _make_ca(layout: PkiLayout) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder("farebridge development CA", _name("farebridge development CA"), key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(layout.ca_key, _key_pem(key))
    _write_public(layout.ca_cert, certificate)


def _issue_leaf(
    layout: PkiLayout, common_name: str, usage: x509.ObjectIdentifier, hosts: Iterable[str]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_certificate, ca_key = _load_ca(layout)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(common_name, ca_certificate.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    names = [_general_name(host) for host in hosts]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_client(layout: PkiLayout, participant_id: str) -> Path:
    """Issues (or re-issues) the client certificate of one participant."""
    check_participant_id(participant_id)
    certificate, key = _issue_leaf(layout, participant_id, ExtendedKeyUsageOID.CLIENT_AUTH, ())
    _write_private(layout.client_key(participant_id), _key_pem(key))
    _write_public(layout.client_cert(participant_id), certificate)
    return layout.client_cert(participant_id)


def init_pki(
    directory: Path, participants: Iterable[str], hosts: Iterable[str] = DEFAULT_HOSTS
) -> PkiLayout:
    """Creates what is missing of a PKI directory; never replaces a CA or
    certificate that exists, so it is safe to run again to add participants."""
    participants = [check_participant_id(p) for p in participants]
    layout = PkiLayout(directory)
    if not layout.ca_cert.exists():
        _make_ca(layout)
    if not layout.server_cert.exists():
        certificate, key = _issue_leaf(
            layout, "farebridge server", ExtendedKeyUsageOID.SERVER_AUTH, hosts
        )
        _write_private(layout.server_key, _key_pem(key))
        _write_public(layout.server_cert, certificate)
    if not layout.signing_key.exists():
        _write_private(layout.signing_key, private_key_pem(generate_device_key()))
    for participant_id in participants:
        if not layout.client_cert(participant_id).exists():
            issue_client(layout, participant_id)
    return layout


def load_signing_key(layout: PkiLayout) -> Ed25519PrivateKey:
    """The clearing house's signing key; NotFoundError if the PKI has none."""
    if not layout.signing_key.exists():
        raise NotFoundError(
            f"no signing key at {layout.signing_key}; run 'farebridge pki init --dir "
            f"{layout.directory}'"
        )
    return load_private_key_pem(layout.signing_key.read_bytes())
