"""AuditService and the auditor's CLI over real mTLS: signed tree heads,
proofs that verify offline, and tampering that ``audit verify`` names."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text

from clearing.ledger import fare_transfer_id
from farebridge.codecs import checkpoint as notes
from farebridge.codecs.merkle import verify_consistency, verify_inclusion
from farebridge.v1 import audit_service_pb2, audit_service_pb2_grpc, clearing_service_pb2

from .conftest import (
    AUDITOR,
    BUS,
    CLEARING_HOUSE,
    METRO,
    RawDevice,
    World,
    register_device,
    submit,
    tap,
)

Audit = audit_service_pb2


def audit_stub(world: World, participant: str = AUDITOR) -> audit_service_pb2_grpc.AuditServiceStub:
    return audit_service_pb2_grpc.AuditServiceStub(world.channel(participant))


# Five fares of one issuer to one operator, then the close's two settlement
# transfers (the issuer pays in, the operator is paid out): seven leaves.
LEAVES_PER_CLOSE = 7


def ride_and_close(world: World, prefix: str, close_id: str) -> clearing_service_pb2.Cycle:
    gate = RawDevice(f"{prefix}-gate")
    register_device(world, gate.device_id, gate.public_key, METRO, 1)
    submit(world, METRO, gate.batch(*(tap(f"{prefix}-{n}", f"card-{n % 5 + 1}") for n in range(5))))
    request = clearing_service_pb2.CloseCycleRequest(close_id=close_id)
    return world.clearing(CLEARING_HOUSE).CloseCycle(request).cycle


def farebridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearing", *args], capture_output=True, text=True, check=False
    )


def cli_connection(world: World) -> list[str]:
    return ["--server", world.address, "--pki", str(world.pki.directory), "--as", AUDITOR]


def test_every_cycle_close_signs_a_checkpoint_over_its_transfers(world: World) -> None:
    cycle = ride_and_close(world, "a", "day-1")
    answer = audit_stub(world).GetCheckpoint(Audit.GetCheckpointRequest())
    assert cycle.checkpoint.tree_size == LEAVES_PER_CLOSE
    assert answer.checkpoint.root_hash == cycle.checkpoint.root_hash
    signed = notes.open_checkpoint(answer.checkpoint.signed_note, [answer.verifier_key])
    assert (signed.tree_size, signed.root_hash) == (LEAVES_PER_CLOSE, cycle.checkpoint.root_hash)
    assert signed.origin == "farebridge/clearing-house/ledger"


def test_an_inclusion_proof_for_a_fare_verifies_and_exports_as_a_document(
    world: World, tmp_path: Path
) -> None:
    ride_and_close(world, "a", "day-1")
    fare = fare_transfer_id("a-gate", 1, "a-3")  # every tap of ride_and_close is sequence 1
    proof = audit_stub(world).GetInclusionProof(
        Audit.GetInclusionProofRequest(transfer_id=fare.bytes)
    )
    verify_inclusion(
        proof.leaf_hash, proof.leaf_index, proof.tree_size, list(proof.proof), proof.root_hash
    )
    assert proof.transfer.user_data == "a-3"
    document = tmp_path / "proof.json"
    document.write_text(proof.proof_json)
    assert farebridge("audit", "verify-proof", str(document)).returncode == 0
    forged = json.loads(proof.proof_json)
    forged["leaf_index"] = (forged["leaf_index"] + 1) % forged["tree_size"]
    document.write_text(json.dumps(forged))
    refused = farebridge("audit", "verify-proof", str(document))
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr


def test_an_auditor_proves_a_taps_fare_from_the_readers_log_alone(
    world: World, tmp_path: Path
) -> None:
    ride_and_close(world, "a", "day-1")
    document = tmp_path / "fare.json"
    tap = ["--tap-id", "a-3", "--device", "a-gate", "--sequence", "1"]
    fetched = farebridge("audit", "proof", *tap, "-o", str(document), *cli_connection(world))
    assert fetched.returncode == 0, fetched.stderr
    proof = json.loads(document.read_text())
    stored = audit_stub(world).GetInclusionProof(
        Audit.GetInclusionProofRequest(transfer_id=fare_transfer_id("a-gate", 1, "a-3").bytes)
    )
    assert (proof["kind"], proof["leaf_index"]) == ("inclusion", stored.leaf_index)
    assert proof["leaf_hash"] == stored.leaf_hash.hex()
    assert farebridge("audit", "verify-proof", str(document)).returncode == 0
    incomplete = farebridge("audit", "proof", "--tap-id", "a-3", *cli_connection(world))
    assert incomplete.returncode == 2
    assert "needs the tap's --device and" in incomplete.stderr
    assert "Traceback" not in incomplete.stderr


def test_later_checkpoints_are_consistent_with_earlier_ones(world: World) -> None:
    first = ride_and_close(world, "a", "day-1")
    second = ride_and_close(world, "b", "day-2")
    proof = audit_stub(world).GetConsistencyProof(
        Audit.GetConsistencyProofRequest(old_size=first.checkpoint.tree_size)
    )
    assert (proof.old_size, proof.new_size) == (LEAVES_PER_CLOSE, 2 * LEAVES_PER_CLOSE)
    verify_consistency(
        LEAVES_PER_CLOSE,
        2 * LEAVES_PER_CLOSE,
        first.checkpoint.root_hash,
        second.checkpoint.root_hash,
        list(proof.proof),
    )


def test_tree_heads_are_public_but_the_full_export_is_for_auditors(world: World) -> None:
    ride_and_close(world, "a", "day-1")
    stub = audit_stub(world, BUS)
    assert stub.GetCheckpoint(Audit.GetCheckpointRequest()).checkpoint.tree_size == LEAVES_PER_CLOSE
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.ExportTransfers(Audit.ExportTransfersRequest()))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_proof_for_an_unknown_transfer_is_not_found(world: World) -> None:
    ride_and_close(world, "a", "day-1")
    with pytest.raises(grpc.RpcError) as caught:
        audit_stub(world).GetInclusionProof(
            Audit.GetInclusionProofRequest(transfer_id=uuid.uuid4().bytes)
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_audit_verify_passes_on_an_honest_ledger(world: World) -> None:
    ride_and_close(world, "a", "day-1")
    ride_and_close(world, "b", "day-2")
    result = farebridge("audit", "verify", *cli_connection(world), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["leaves"] == 2 * LEAVES_PER_CLOSE
    assert report["checkpoints"] == 2


def _tamper(world: World, statement: str) -> None:
    """Alters stored rows the way an intruder with database access would:
    first switching off the append-only triggers."""
    engine = create_engine(world.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE ledger_transfers DISABLE TRIGGER USER"))
            connection.execute(text(statement))
            connection.execute(text("ALTER TABLE ledger_transfers ENABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER ledger_transfers_no_update"))
            connection.execute(text(statement))
    engine.dispose()


def test_audit_verify_names_an_altered_transfer(world: World) -> None:
    ride_and_close(world, "a", "day-1")
    fare = fare_transfer_id("a-gate", 1, "a-2")
    stored_id = fare.hex if "sqlite" in world.database_url else str(fare)
    _tamper(
        world, f"UPDATE ledger_transfers SET amount = amount + 1 WHERE transfer_id = '{stored_id}'"
    )
    result = farebridge("audit", "verify", *cli_connection(world), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert str(fare) in report["first_divergence"]
    assert "altered" in report["first_divergence"]


def test_a_verifier_key_that_is_not_the_houses_fails_every_checkpoint(world: World) -> None:
    ride_and_close(world, "a", "day-1")
    impostor = notes.verifier_key(
        "farebridge/clearing-house/ledger", RawDevice("x").key.public_key()
    )
    result = farebridge(
        "audit", "verify", *cli_connection(world), "--verifier-key", impostor, "--json"
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["problems"]
