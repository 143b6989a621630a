"""``farebridge audit verify-proof``: check a proof document offline.

The auditor's side of the tamper evidence: no server, no database, only the
JSON file and the shared Merkle code. Any reason the proof cannot be
accepted, from an unreadable file to a flipped bit, ends in one line on
stderr and exit code 1; exit code 0 means the proof verified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import typer
from rich.markup import escape

from clearing.audit import (
    ProofDocument,
    ProofDocumentError,
    describe_proof,
    parse_proof_document,
    verify_proof_document,
)
from clearing.cli._output import JsonOption, errors, print_json
from farebridge.codecs.merkle import ProofError

FileArgument = typer.Argument(
    ..., help="JSON proof document, as exported by the AuditService.", show_default=False
)


class _RejectedError(Exception):
    """Why the proof was not accepted, and which kind it claimed to be."""

    def __init__(self, reason: str, kind: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def verify_proof(file: Path = FileArgument, as_json: bool = JsonOption) -> None:
    """Verify an inclusion or consistency proof document offline; exit 1 unless it holds."""
    try:
        document = _verified_document(file)
    except _RejectedError as rejected:
        _report_rejection(rejected, as_json)
        raise typer.Exit(1) from None
    if as_json:
        print_json({"valid": True, "kind": document.kind, "reason": None})
    else:
        typer.echo(describe_proof(document))


def _verified_document(file: Path) -> ProofDocument:
    data = _read_json(file)
    kind = data.get("kind")
    claimed = kind if isinstance(kind, str) else None
    try:
        document = parse_proof_document(data)
    except ProofDocumentError as error:
        raise _RejectedError(f"malformed proof document: {error}", claimed) from error
    try:
        verify_proof_document(document)
    except ProofError as error:
        raise _RejectedError(f"invalid {document.kind} proof: {error}", document.kind) from error
    return document


def _read_json(file: Path) -> Mapping[str, object]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        reason = error.strerror or _one_line(error)
        raise _RejectedError(f"cannot read {file}: {reason}", None) from error
    except UnicodeDecodeError as error:
        raise _RejectedError(f"{file} is not UTF-8 text", None) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise _RejectedError(f"{file} is not JSON: {error}", None) from error
    if not isinstance(data, dict):
        raise _RejectedError(f"{file} must hold a JSON object, not {type(data).__name__}", None)
    return data


def _report_rejection(rejected: _RejectedError, as_json: bool) -> None:
    if as_json:
        print_json({"valid": False, "kind": rejected.kind, "reason": rejected.reason})
        return
    # soft_wrap keeps the reason on one line whatever the terminal's width.
    errors.print(f"[bold red]error:[/] {escape(rejected.reason)}", soft_wrap=True)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
