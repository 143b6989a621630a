"""Connecting the CLI to a farebridge server as one participant, over mTLS."""

from __future__ import annotations

from pathlib import Path

import grpc
import typer

from clearing.pki import PkiLayout

ServerOption = typer.Option(
    "localhost:50051", "--server", envvar="FAREBRIDGE_SERVER", help="host:port of the server."
)
PkiOption = typer.Option(Path("pki"), "--pki", help="Folder holding ca.pem and clients/.")
AsOption = typer.Option("auditor", "--as", help="Participant whose client certificate to present.")


def open_channel(server: str, pki_dir: Path, participant_id: str) -> grpc.Channel:
    """An mTLS channel; a missing certificate is a user error, not a traceback."""
    layout = PkiLayout(pki_dir)
    needed = (layout.ca_cert, layout.client_cert(participant_id), layout.client_key(participant_id))
    for path in needed:
        if not path.exists():
            raise typer.BadParameter(f"{path} does not exist", param_hint="--pki/--as")
    credentials = grpc.ssl_channel_credentials(
        layout.ca_cert.read_bytes(),
        layout.client_key(participant_id).read_bytes(),
        layout.client_cert(participant_id).read_bytes(),
    )
    return grpc.secure_channel(server, credentials)
