"""The faults ``farebridge simulate --faults`` injects, each through the
same interfaces a real failure would use.

- ``AckDroppingProxy``: a TCP relay between readers and the server that cuts
  connections while the server's answers are on their way, so batches the
  server committed are never acknowledged to the reader, which sends them
  again.
- ``replay_shuffled``: a reader's backlog sent in shuffled batches, each
  twice, before the reader's own upload: duplicated and reordered batches.
- reader clock skew: each reader's clock is off by a few seconds (see
  ``MAX_READER_SKEW``).
- the server killed with SIGKILL mid-upload (``simulators._server``).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import uuid
from datetime import timedelta
from pathlib import Path

from farebridge.codecs import load_private_key_pem, seal_batch
from farebridge.v1 import reader_service_pb2, reader_service_pb2_grpc, tap_pb2
from readers import Reader, ServerConnection

# Readers that scan ride codes must stamp taps within the codes' freshness
# window (a code is judged at the tap's time: at most 30 s ahead of it and
# 60 s behind), so their clocks may be off by this much and still agree
# with every phone; the server's own tolerance for clocks ahead is 5 minutes.
MAX_READER_SKEW = timedelta(seconds=25)
_CHUNK = 64 * 1024
# The server's first bytes on a connection are its TLS handshake and HTTP/2
# settings; cutting there is a refused connection, not a lost answer.
_HANDSHAKE_BYTES = 3 * 1024


class AckDroppingProxy:
    """Relays TCP to ``upstream_port``; after the handshake, each chunk the
    server sends is, with probability ``drop``, thrown away together with
    the connection."""

    def __init__(self, upstream_port: int, drop: float, seed: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._drop = drop
        self._random = random.Random(f"proxy/{seed}")
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.dropped = 0
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def _cut_now(self) -> bool:
        with self._lock:
            cut = self._random.random() < self._drop
            self.dropped += cut
            return cut

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        relayed = 0
        try:
            while chunk := source.recv(_CHUNK):
                relayed += len(chunk)
                if answers and relayed > _HANDSHAKE_BYTES and self._cut_now():
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def close(self) -> None:
        self._closing = True
        self._listener.close()


def replay_shuffled(
    reader: Reader,
    state_dir: Path,
    connection: ServerConnection,
    generator: random.Random,
    batch_taps: int = 40,
) -> int:
    """Sends the reader's pending taps as the reader would (signed with its
    key), but in shuffled batches, each twice; answers the batches sent.

    The reader knows nothing of it: its own upload then finds every tap
    already stored and is answered DUPLICATE, which acknowledges it.
    """
    pending = [t for t in reader.stored_taps() if t.state == "pending"]
    if not pending:
        return 0
    key = load_private_key_pem((state_dir / "device_key.pem").read_bytes())
    batches = [pending[n : n + batch_taps] for n in range(0, len(pending), batch_taps)]
    generator.shuffle(batches)
    requests = []
    for taps in batches:
        batch = tap_pb2.TapBatch(
            device_id=reader.device_id,
            batch_id=str(uuid.UUID(int=generator.getrandbits(128))),
            taps=[tap.wire() for tap in taps],
        )
        batch.sealed_at.FromDatetime(taps[-1].tapped_at)
        request = reader_service_pb2.SubmitTapsRequest(signed_batch=seal_batch(batch, key))
        requests += [request, request]
    with connection.channel() as channel:
        stub = reader_service_pb2_grpc.ReaderServiceStub(channel)
        answers = list(stub.SubmitTaps(iter(requests), timeout=60))
    return len(answers)
