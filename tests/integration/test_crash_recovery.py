"""The server is killed with SIGKILL in the middle of an upload. After it
restarts and the reader retries, every tap is stored exactly once, every tap
acknowledged before the kill is still there, and each is charged once."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clearing.pki import PkiLayout
from clearing.storage import Database
from clearing.storage.models import LedgerTransferRow, TapRow
from readers import TAP_DIRECTION_ON, Reader, UploadReport

from .conftest import (
    CLEARING_HOUSE,
    METRO,
    METRO_FARE,
    World,
    connection,
    populate,
    register_device,
)

TAPS = 3000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        assert isinstance(port, int)
        return port


class ServerProcess:
    """``farebridge serve`` in a child process that a test can kill."""

    def __init__(self, database_url: str, pki: PkiLayout, port: int) -> None:
        self.command = [
            sys.executable, "-m", "clearing", "serve",
            "--db", database_url, "--pki", str(pki.directory),
            "--listen", f"127.0.0.1:{port}", "--clearing-house", CLEARING_HOUSE,
        ]  # fmt: skip
        self.address = f"localhost:{port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "serving on port" in line, f"server did not start: {line!r}"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process.stdout.close()  # type: ignore[union-attr]

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process.stdout.close()  # type: ignore[union-attr]


@pytest.fixture
def server(database_url: str, pki: PkiLayout) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, pki, free_port())
    process.start()
    try:
        yield process
    finally:
        process.terminate()


def stored(database_url: str) -> tuple[list[str], int, int]:
    database = Database(database_url)
    try:
        with database.transaction() as session:
            tap_ids = list(session.scalars(select(TapRow.tap_id)))
            transfers = session.scalar(select(func.count()).select_from(LedgerTransferRow))
            total = session.scalar(select(func.coalesce(func.sum(LedgerTransferRow.amount), 0)))
    finally:
        database.dispose()
    return tap_ids, int(transfers or 0), int(total or 0)


def acknowledged(reader: Reader) -> set[str]:
    return {t.tap_id for t in reader.stored_taps() if t.state in ("accepted", "duplicate")}


@pytest.mark.slow
def test_sigkill_mid_upload_loses_and_doubles_nothing(
    server: ServerProcess, database_url: str, pki: PkiLayout, tmp_path: Path
) -> None:
    world = World(server.address, pki, database_url, tmp_path)
    populate(world)
    reader = Reader(
        "metro-gate-1", tmp_path / "reader", connection(pki, server.address, METRO),
        max_batch_taps=25, max_in_flight=2,
    )  # fmt: skip
    register_device(world, reader.device_id, reader.public_key, METRO, 1)
    tap_ids = {reader.tap(f"card-{n % 5 + 1}", TAP_DIRECTION_ON) for n in range(TAPS)}

    reports: list[UploadReport] = []
    uploading = threading.Thread(
        target=lambda: reports.append(
            reader.upload(max_attempts=60, initial_backoff=0.05, max_backoff=0.5)
        )
    )
    uploading.start()
    deadline = time.monotonic() + 60
    while len(acknowledged(reader)) < TAPS // 5:
        assert time.monotonic() < deadline, "the upload made no progress"
        time.sleep(0.01)
    server.kill()
    acked_before_kill = acknowledged(reader)
    assert 0 < len(acked_before_kill) < TAPS, "the kill landed in the middle of the upload"
    time.sleep(0.3)  # the reader meets a dead server and backs off
    server.start()
    uploading.join(timeout=120)
    reader_state = reader.stored_taps()
    reader.close()
    world.close()

    assert reports, "the upload finished after the restart"
    assert all(t.state in ("accepted", "duplicate") for t in reader_state)
    stored_ids, transfers, total = stored(database_url)
    assert len(stored_ids) == len(set(stored_ids)) == TAPS, "every tap stored exactly once"
    assert set(stored_ids) == tap_ids
    assert acked_before_kill <= set(stored_ids), "no acknowledged tap was lost"
    assert transfers == TAPS, "every tap-on charged exactly once"
    assert total == TAPS * METRO_FARE
