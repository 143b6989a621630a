"""The ``farebridge`` command as a user runs it: in a child process, reading
its output, its exit code, and never a traceback for a mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import BUS, CARDS, METRO, METRO_FARE, RawDevice, World, register_device, submit, tap


def farebridge(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearing", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_user_error(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert words in result.stderr


def test_clearing_close_prints_positions_as_json_and_as_a_table(world: World) -> None:
    gate = RawDevice("metro-gate")
    register_device(world, gate.device_id, gate.public_key, METRO, 1)
    submit(world, METRO, gate.batch(tap("m-1", "card-1"), tap("m-2", "card-2")))

    closed = farebridge(
        "clearing", "close", "--db", world.database_url, "--pki", str(world.pki.directory), "--json"
    )
    assert closed.returncode == 0, closed.stderr
    cycle = json.loads(closed.stdout)
    nets = {p["participant_id"]: p["net"] for p in cycle["positions"]}
    assert nets == {METRO: 2 * METRO_FARE, CARDS: -2 * METRO_FARE}
    assert cycle["transfer_count"] == 2
    # Both fares, then the close's settlement: cards pays in, metro is paid out.
    assert len(cycle["instructions"]) == 2
    assert cycle["checkpoint"]["tree_size"] == 4, "the close signs a tree head over all of it"
    assert cycle["checkpoint"]["signed_note"].startswith("farebridge/clearing-house/ledger\n4\n")

    table = farebridge("clearing", "positions", "--db", world.database_url, "--cycle", "1")
    assert table.returncode == 0, table.stderr
    assert "net positions in SGD sum to 0" in table.stdout
    assert METRO in table.stdout
    assert BUS not in table.stdout, "only participants with movements appear"


def test_closing_with_nothing_to_clear_is_a_clear_error(world: World, tmp_path: Path) -> None:
    pki = str(world.pki.directory)
    result = farebridge("clearing", "close", "--db", f"sqlite:///{tmp_path / 'e.db'}", "--pki", pki)
    assert_user_error(result, "nothing to close")


def test_closing_without_a_signing_key_is_a_clear_error(tmp_path: Path) -> None:
    result = farebridge("clearing", "close", "--pki", str(tmp_path / "no-pki"))
    assert_user_error(result, "no signing key")


def test_an_unsupported_database_url_is_a_clear_error() -> None:
    assert_user_error(farebridge("migrate", "--db", "mysql://somewhere/db"), "unsupported database")


def test_serve_without_certificates_is_a_clear_error(tmp_path: Path) -> None:
    result = farebridge("serve", "--pki", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "pki init" in result.stderr
    assert "Traceback" not in result.stderr


def test_pki_init_reports_the_files_it_made(tmp_path: Path) -> None:
    result = farebridge("pki", "init", "--dir", str(tmp_path), "-p", "metro", "--json")
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout)
    assert Path(files["clients"]["metro"]["cert"]).is_file()
    assert Path(files["server_cert"]).is_file()
    refused = farebridge("pki", "init", "--dir", str(tmp_path), "-p", "no spaces allowed")
    assert_user_error(refused, "participant id")


def test_serve_refuses_a_malformed_cut_off_schedule(world: World) -> None:
    pki = str(world.pki.directory)
    assert_user_error(farebridge("serve", "--pki", pki, "--cut-off", "25:99"), "HH:MM")
    assert_user_error(
        farebridge("serve", "--pki", pki, "--cut-off", "03:00", "--zone", "Mars/Olympus"),
        "unknown time zone",
    )
