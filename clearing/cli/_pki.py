"""``farebridge pki``: development certificates for mTLS."""

from __future__ import annotations

from pathlib import Path

import typer

from clearing.cli._output import JsonOption, print_json, print_table
from clearing.pki import DEFAULT_HOSTS, PkiLayout, init_pki, issue_client

app = typer.Typer(help="Make development certificates for mTLS.", no_args_is_help=True)

DirOption = typer.Option(Path("pki"), "--dir", help="Folder holding the CA and certificates.")


def _report(layout: PkiLayout, as_json: bool) -> None:
    files = {
        "ca_cert": str(layout.ca_cert),
        "server_cert": str(layout.server_cert),
        "server_key": str(layout.server_key),
        "clients": {
            pid: {"cert": str(layout.client_cert(pid)), "key": str(layout.client_key(pid))}
            for pid in layout.client_ids()
        },
    }
    if as_json:
        print_json(files)
        return
    rows = [("CA", "", str(layout.ca_cert)), ("server", "", str(layout.server_cert))]
    rows += [("client", pid, str(layout.client_cert(pid))) for pid in layout.client_ids()]
    print_table(f"PKI in {layout.directory}", ["Kind", "Participant", "Certificate"], rows)


@app.command("init")
def init(
    directory: Path = DirOption,
    participant: list[str] = typer.Option(
        [], "--participant", "-p", help="Participant id to issue a client certificate for."
    ),
    host: list[str] = typer.Option(
        list(DEFAULT_HOSTS), "--host", help="Host name or IP address the server certificate names."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a CA, a server certificate and client certificates (keeps existing ones)."""
    _report(init_pki(directory, participant, host), as_json)


@app.command("issue")
def issue(
    participant: str = typer.Argument(..., help="Participant id (the certificate's common name)."),
    directory: Path = DirOption,
    as_json: bool = JsonOption,
) -> None:
    """Issue or re-issue one participant's client certificate from an existing CA."""
    layout = PkiLayout(directory)
    if not layout.ca_cert.exists():
        raise typer.BadParameter(f"no CA in {directory}; run 'farebridge pki init' first")
    issue_client(layout, participant)
    _report(layout, as_json)
