"""The clearing house's server as a child process on a simulated clock.

The simulation owns time: the server reads "now" from a small file the
simulation advances hour by hour, so every ledger transfer carries the
simulated instant it was posted at, not the wall clock's. That is what lets
two runs of the same seed (one of them with the server killed half way)
end in byte-identical ledgers and the same checkpoint root.

``farebridge serve`` has no option for this clock, hence this entry point:
``python -m simulators._server --clock-file PATH`` and the serve options.

To see where a long run's memory goes, set ``FAREBRIDGE_TRACEMALLOC_DIR``:
the server then traces its allocations and writes a snapshot there every
``FAREBRIDGE_TRACEMALLOC_EVERY`` seconds (60 by default), to be compared
with ``tracemalloc.Snapshot.load(later).compare_to(Snapshot.load(earlier),
"traceback")``. Tracing slows the server several times over.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from clearing.server import ServerSettings, start_server, tune_collector_for_serving
from simulators._city import CLEARING_HOUSE, CURRENCY


class SimulatedClock:
    """The simulation's "now", shared with the server process through a file."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def set(self, instant: datetime) -> None:
        """Moves the server's clock; atomically, so the server never reads half."""
        staged = self._path.with_suffix(".next")
        staged.write_text(instant.astimezone(UTC).isoformat())
        os.replace(staged, self._path)

    def now(self) -> datetime:
        return datetime.fromisoformat(self._path.read_text())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        assert isinstance(port, int)
        return port


class ServerProcess:
    """The server in a child process on a fixed port, which the simulation
    may kill with SIGKILL and start again on the same database."""

    def __init__(
        self,
        database_url: str,
        pki_dir: Path,
        clock_file: Path,
        *,
        max_group_taps: int | None = None,
    ) -> None:
        self.port = free_port()
        self.command = [
            sys.executable, "-m", "simulators._server",
            "--db", database_url, "--pki", str(pki_dir),
            "--listen", f"127.0.0.1:{self.port}", "--clock-file", str(clock_file),
        ]  # fmt: skip
        if max_group_taps is not None:
            self.command += ["--max-group-taps", str(max_group_taps)]
        self._process: subprocess.Popen[str] | None = None
        self.restarts = 0

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        # The command is this module and the simulation's own paths, never user text.
        self._process = subprocess.Popen(  # noqa: S603
            self.command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if "serving on port" not in line:
            self._process.wait(timeout=10)
            raise RuntimeError(
                f"the clearing server did not start (exit {self._process.returncode})"
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; only what was committed survives."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._finish()

    def restart(self) -> None:
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._finish()

    def _finish(self) -> None:
        assert self._process is not None
        self._process.wait(timeout=30)
        if self._process.stdout is not None:
            self._process.stdout.close()


def trace_memory(folder: Path, every: float) -> threading.Thread:
    """Starts tracing allocations and a daemon thread that writes a snapshot
    to ``folder`` every ``every`` seconds (snapshot-0000.tracemalloc, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(16)

    def dump() -> None:
        for number in itertools.count():
            time.sleep(every)
            tracemalloc.take_snapshot().dump(str(folder / f"snapshot-{number:04d}.tracemalloc"))

    thread = threading.Thread(target=dump, name="tracemalloc-snapshots", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--pki", type=Path, required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--clock-file", type=Path, required=True)
    parser.add_argument("--max-workers", type=int, default=32)
    parser.add_argument("--max-group-taps", type=int)
    options = parser.parse_args(argv)
    if traces := os.environ.get("FAREBRIDGE_TRACEMALLOC_DIR"):
        trace_memory(Path(traces), float(os.environ.get("FAREBRIDGE_TRACEMALLOC_EVERY", "60")))
    running = start_server(
        ServerSettings(
            database_url=options.db,
            pki_dir=options.pki,
            listen=options.listen,
            clearing_house_id=CLEARING_HOUSE,
            currency=CURRENCY,
            max_workers=options.max_workers,
            max_group_taps=options.max_group_taps,
            clock=SimulatedClock(options.clock_file).now,
        )
    )
    tune_collector_for_serving()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        running.stop()

    signal.signal(signal.SIGTERM, _stop)
    print(f"farebridge serving on port {running.port}", flush=True)
    running.wait()


if __name__ == "__main__":
    main()
