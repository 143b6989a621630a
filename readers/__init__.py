"""farebridge reader SDK: what a transit operator runs on or beside its readers.

A ``Reader`` stores every tap durably on local disk the moment it happens,
with or without network, and ``Reader.upload()`` hands the backlog to the
clearing house over mutual TLS in signed, pipelined batches, retrying through
outages without losing or doubling a tap::

    connection = ServerConnection.from_files("clearing.example:443", ca, cert, key)
    with Reader("metro-gate-0042", Path("/var/lib/farebridge"), connection) as reader:
        reader.tap("tok_9f2c", TAP_DIRECTION_ON)
        report = reader.upload()

A ``RideCodeGate`` admits QR ride codes offline: it checks the issuer's and
the rider's signatures against the clearing house's signed trust list, the
deny list, freshness and replays, in well under a millisecond per code.

Only ``farebridge.v1`` and ``farebridge.codecs`` are shared with the server;
nothing here imports the clearing engine.
"""

from farebridge.v1.common_pb2 import TAP_DIRECTION_OFF, TAP_DIRECTION_ON
from readers._connection import ServerConnection
from readers._errors import (
    BatchRejectedError,
    InvalidTapError,
    ReaderError,
    UploadIncompleteError,
)
from readers._lists import ListSync, ListSyncReport
from readers._queue import StoredTap, TapState
from readers._reader import Reader
from readers._ridecodes import RideCodeGate
from readers._upload import UploadReport

__all__ = [
    "TAP_DIRECTION_OFF",
    "TAP_DIRECTION_ON",
    "BatchRejectedError",
    "InvalidTapError",
    "ListSync",
    "ListSyncReport",
    "Reader",
    "ReaderError",
    "RideCodeGate",
    "ServerConnection",
    "StoredTap",
    "TapState",
    "UploadIncompleteError",
    "UploadReport",
]
