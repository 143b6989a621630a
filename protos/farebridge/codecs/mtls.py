"""Where the clearing house is and how a participant proves who it is (mTLS).

Both SDKs (readers for operators, wallets for wallet providers) connect the
same way, so the connection is defined once, here in the shared package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


@dataclass(frozen=True)
class ServerConnection:
    """How to reach the clearing house over mutual TLS.

    Attributes:
        address: ``host:port`` of the clearing house.
        ca_cert_pem: PEM of the CA that signed the server's certificate.
        client_cert_pem: PEM certificate chain of this participant; its common
            name is the participant id the clearing house authorizes against.
        client_key_pem: PEM private key of ``client_cert_pem``.
        server_name_override: host name to verify the server certificate
            against instead of the host in ``address``; for certificates that
            name another host (a load balancer, a test CA). ``None`` keeps the
            normal check.
    """

    address: str
    ca_cert_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes
    server_name_override: str | None = None

    @classmethod
    def from_files(
        cls,
        address: str,
        ca_cert: Path,
        client_cert: Path,
        client_key: Path,
        *,
        server_name_override: str | None = None,
    ) -> ServerConnection:
        """Reads the three PEM files now, so a missing file fails at start-up."""
        return cls(
            address=address,
            ca_cert_pem=ca_cert.read_bytes(),
            client_cert_pem=client_cert.read_bytes(),
            client_key_pem=client_key.read_bytes(),
            server_name_override=server_name_override,
        )

    def channel(self) -> grpc.Channel:
        """Opens a new mTLS channel; the caller closes it (it is a context manager)."""
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.ca_cert_pem,
            private_key=self.client_key_pem,
            certificate_chain=self.client_cert_pem,
        )
        options: list[tuple[str, str]] = []
        if self.server_name_override is not None:
            options.append(("grpc.ssl_target_name_override", self.server_name_override))
        return grpc.secure_channel(self.address, credentials, options=options)
