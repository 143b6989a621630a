"""Offline proof documents: the format, its documentation, and the CLI check.

The worked examples in clearing/audit/docs.md are tested literally: they must
be what the builders produce for the reference tree, and they must verify.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

import clearing.audit
from clearing.audit import (
    ConsistencyProofDocument,
    InclusionProofDocument,
    ProofDocumentError,
    ProofError,
    consistency_document,
    inclusion_document,
    parse_proof_document,
    verify_proof_document,
)
from clearing.cli._audit_proof import verify_proof
from farebridge.codecs.checkpoint import parse_checkpoint
from farebridge.codecs.merkle import consistency_proof, inclusion_proof, root_hash

DOCS = Path(clearing.audit.__file__).with_name("docs.md")


@pytest.fixture
def inclusion(reference_leaf_hashes: list[bytes]) -> dict[str, object]:
    """Leaf 5 of the reference tree of 8, as the exporter writes it."""
    return inclusion_document(
        leaf_hash=reference_leaf_hashes[5],
        leaf_index=5,
        tree_size=8,
        root_hash=root_hash(reference_leaf_hashes),
        proof=inclusion_proof(reference_leaf_hashes, 5),
    )


@pytest.fixture
def consistency(reference_leaf_hashes: list[bytes]) -> dict[str, object]:
    """The reference tree of 3 extended to 7 (RFC 9162 §2.1.5's example)."""
    return consistency_document(
        old_size=3,
        new_size=7,
        old_root=root_hash(reference_leaf_hashes[:3]),
        new_root=root_hash(reference_leaf_hashes[:7]),
        proof=consistency_proof(reference_leaf_hashes[:7], 3),
    )


def documented_json_examples() -> list[dict[str, object]]:
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    return [json.loads(block) for block in blocks]


def test_the_documented_examples_are_what_the_builders_make(
    inclusion: dict[str, object], consistency: dict[str, object]
) -> None:
    assert documented_json_examples() == [inclusion, consistency]


def test_the_documented_examples_verify() -> None:
    for example in documented_json_examples():
        verify_proof_document(parse_proof_document(example))


def test_the_documented_checkpoint_carries_the_reference_root(
    reference_roots: list[bytes],
) -> None:
    text = DOCS.read_text(encoding="utf-8")
    body = text[text.index("farebridge.example/ledger\n8\n") :].split("\n\n")[0] + "\n"
    checkpoint = parse_checkpoint(body)
    assert (checkpoint.tree_size, checkpoint.root_hash) == (8, reference_roots[7])


def test_documents_use_the_reference_roots(
    inclusion: dict[str, object], consistency: dict[str, object], reference_roots: list[bytes]
) -> None:
    assert inclusion["root_hash"] == reference_roots[7].hex()
    assert consistency["old_root"] == reference_roots[2].hex()
    assert consistency["new_root"] == reference_roots[6].hex()


def test_parsing_reads_every_field(
    inclusion: dict[str, object], consistency: dict[str, object], reference_leaf_hashes: list[bytes]
) -> None:
    parsed = parse_proof_document(inclusion)
    assert isinstance(parsed, InclusionProofDocument)
    assert (parsed.leaf_hash, parsed.leaf_index, parsed.tree_size) == (
        reference_leaf_hashes[5],
        5,
        8,
    )
    assert parsed.proof == tuple(inclusion_proof(reference_leaf_hashes, 5))
    assert parsed.to_json() == inclusion
    other = parse_proof_document(consistency)
    assert isinstance(other, ConsistencyProofDocument)
    assert (other.old_size, other.new_size, other.kind) == (3, 7, "consistency")
    assert other.to_json() == consistency


def test_extra_fields_are_carried_and_ignored(reference_leaf_hashes: list[bytes]) -> None:
    document = inclusion_document(
        leaf_hash=reference_leaf_hashes[5],
        leaf_index=5,
        tree_size=8,
        root_hash=root_hash(reference_leaf_hashes),
        proof=inclusion_proof(reference_leaf_hashes, 5),
        extra={"checkpoint": "farebridge.example/ledger\n8\n...", "entry": {"id": "t-5"}},
    )
    assert document["entry"] == {"id": "t-5"}
    verify_proof_document(parse_proof_document(document))


def test_extra_fields_may_not_replace_proof_fields(reference_leaf_hashes: list[bytes]) -> None:
    with pytest.raises(ProofDocumentError, match="'tree_size'") as raised:
        inclusion_document(
            leaf_hash=reference_leaf_hashes[0],
            leaf_index=0,
            tree_size=1,
            root_hash=reference_leaf_hashes[0],
            proof=[],
            extra={"entry": {}, "tree_size": 99},
        )
    assert raised.value.field == "tree_size"


def _without(document: dict[str, object], name: str) -> dict[str, object]:
    return {key: value for key, value in document.items() if key != name}


def _with(document: dict[str, object], name: str, value: object) -> dict[str, object]:
    changed = copy.deepcopy(document)
    changed[name] = value
    return changed


@pytest.mark.parametrize(
    ("change", "field", "complaint"),
    [
        (lambda d: _without(d, "leaf_hash"), "leaf_hash", "no 'leaf_hash' field"),
        (lambda d: _without(d, "kind"), "kind", "no 'kind' field"),
        (lambda d: _without(d, "proof"), "proof", "no 'proof' field"),
        (lambda d: _with(d, "kind", "exclusion"), "kind", "unknown 'kind' 'exclusion'"),
        (lambda d: _with(d, "leaf_hash", "ZZ" * 32), "leaf_hash", "lowercase hex"),
        (lambda d: _with(d, "root_hash", "AB" * 32), "root_hash", "lowercase hex"),
        (lambda d: _with(d, "root_hash", "abc"), "root_hash", "lowercase hex"),
        (lambda d: _with(d, "root_hash", 17), "root_hash", "lowercase hex"),
        (lambda d: _with(d, "leaf_hash", "ab" * 31), "leaf_hash", "31 bytes"),
        (lambda d: _with(d, "proof", ["ab" * 33]), "proof[0]", "33 bytes"),
        (lambda d: _with(d, "proof", "ab" * 32), "proof", "must be a list"),
        (lambda d: _with(d, "proof", ["ab" * 32, None]), "proof[1]", "lowercase hex"),
        (lambda d: _with(d, "tree_size", -8), "tree_size", "negative"),
        (lambda d: _with(d, "leaf_index", -1), "leaf_index", "negative"),
        (lambda d: _with(d, "tree_size", "8"), "tree_size", "integer"),
        (lambda d: _with(d, "tree_size", 8.0), "tree_size", "integer"),
        (lambda d: _with(d, "tree_size", True), "tree_size", "integer"),
        (lambda d: _with(d, "leaf_index", 8), "leaf_index", "not less than 'tree_size' 8"),
    ],
)
def test_malformed_inclusion_documents_name_the_field(
    change: Callable[[dict[str, object]], dict[str, object]],
    field: str,
    complaint: str,
    inclusion: dict[str, object],
) -> None:
    with pytest.raises(ProofDocumentError, match=re.escape(complaint)) as raised:
        parse_proof_document(change(inclusion))
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("old_size", -3, "negative"),
        ("new_size", -1, "negative"),
        ("old_size", 8, "'old_size' 8 is larger than 'new_size' 7"),
        ("new_root", "00" * 16, "16 bytes"),
    ],
)
def test_malformed_consistency_documents_name_the_field(
    name: str, value: object, complaint: str, consistency: dict[str, object]
) -> None:
    with pytest.raises(ProofDocumentError, match=re.escape(complaint)):
        parse_proof_document(_with(consistency, name, value))


def test_a_well_formed_document_with_a_wrong_proof_fails_verification(
    inclusion: dict[str, object], consistency: dict[str, object]
) -> None:
    moved = parse_proof_document(_with(inclusion, "leaf_index", 4))
    with pytest.raises(ProofError):
        verify_proof_document(moved)
    shrunk = parse_proof_document(_with(consistency, "old_size", 2))
    with pytest.raises(ProofError):
        verify_proof_document(shrunk)


# --- farebridge audit verify-proof -------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    """The command mounted as ``farebridge audit verify-proof`` mounts it."""
    app = typer.Typer()
    audit = typer.Typer()
    audit.command("verify-proof")(verify_proof)
    app.add_typer(audit, name="audit")
    return app


def run(cli: typer.Typer, *arguments: str) -> Result:
    result = CliRunner().invoke(cli, ["audit", "verify-proof", *arguments])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def write(tmp_path: Path, content: object, name: str = "proof.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def test_cli_accepts_a_valid_inclusion_proof(
    cli: typer.Typer, tmp_path: Path, inclusion: dict[str, object]
) -> None:
    result = run(cli, str(write(tmp_path, inclusion)))
    assert result.exit_code == 0
    assert result.stdout == "valid inclusion proof: leaf 5 in tree of size 8\n"


def test_cli_accepts_a_valid_consistency_proof_as_json(
    cli: typer.Typer, tmp_path: Path, consistency: dict[str, object]
) -> None:
    result = run(cli, str(write(tmp_path, consistency)), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"valid": True, "kind": "consistency", "reason": None}


def test_cli_says_what_a_consistency_proof_proves(
    cli: typer.Typer, tmp_path: Path, consistency: dict[str, object]
) -> None:
    result = run(cli, str(write(tmp_path, consistency)))
    assert (
        result.stdout == "valid consistency proof: tree of size 3 is a prefix of tree of size 7\n"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "must hold a JSON object, not list"),
        ({"kind": "inclusion"}, "malformed proof document: the proof document has no 'leaf_hash'"),
        ({"kind": "mystery"}, "malformed proof document: unknown 'kind' 'mystery'"),
    ],
)
def test_cli_rejects_unusable_files_in_one_line(
    cli: typer.Typer, tmp_path: Path, content: object, reason: str
) -> None:
    result = run(cli, str(write(tmp_path, content)))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert reason in result.stderr


def test_cli_rejects_a_file_that_is_not_text(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(b'{"kind": "\xff"}')
    result = run(cli, str(path))
    assert result.exit_code == 1
    assert result.stderr == f"error: {path} is not UTF-8 text\n"


def test_cli_rejects_a_tampered_proof(
    cli: typer.Typer,
    tmp_path: Path,
    inclusion: dict[str, object],
    reference_leaf_hashes: list[bytes],
) -> None:
    proof = [node.hex() for node in inclusion_proof(reference_leaf_hashes, 5)]
    proof[1] = "00" + proof[1][2:]
    result = run(cli, str(write(tmp_path, _with(inclusion, "proof", proof))))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid inclusion proof: ")
    assert "does not lead to the root" in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_reports_a_tampered_proof_as_json(
    cli: typer.Typer, tmp_path: Path, consistency: dict[str, object]
) -> None:
    result = run(cli, str(write(tmp_path, _with(consistency, "old_size", 2))), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["kind"] == "consistency"
    assert report["reason"].startswith("invalid consistency proof: ")


def test_cli_reports_a_malformed_document_as_json(cli: typer.Typer, tmp_path: Path) -> None:
    result = run(cli, str(write(tmp_path, {"kind": "inclusion", "leaf_hash": "x"})), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report == {
        "valid": False,
        "kind": "inclusion",
        "reason": "malformed proof document: 'leaf_hash' must be lowercase hex, not 'x'",
    }


def test_cli_reports_a_missing_file(cli: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    result = run(cli, str(missing))
    assert result.exit_code == 1
    assert result.stderr == f"error: cannot read {missing}: No such file or directory\n"
    as_json = run(cli, str(missing), "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["kind"] is None


def test_cli_keeps_a_long_reason_on_one_line(cli: typer.Typer, tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 6)
    deep.mkdir()
    result = run(cli, str(write(deep, "{oops")))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
