"""The exceptions the reader SDK raises.

``ReaderError`` is the one root: an operator's integration can catch it alone.
Each subclass says what went wrong and what to do about it. Eager argument
checks raise ``InvalidTapError``, which is also a ``ValueError``.
"""

from __future__ import annotations

import grpc


class ReaderError(Exception):
    """Something the reader SDK cannot do for you: read the message.

    Raised as itself for misconfiguration (no server connection, a state
    directory that belongs to another device) and for answers from the server
    that break the ``ReaderService`` protocol. Nothing stored locally is lost.
    """


class InvalidTapError(ReaderError, ValueError):
    """``tap()`` was called with arguments the clearing house would refuse.

    Nothing was stored and no sequence number was used. Fix the call: the
    message names the argument. A ``tap_id`` that is reused with different
    content also lands here, because tap ids are idempotency keys.
    """


class BatchRejectedError(ReaderError):
    """The clearing house refused a whole batch: retrying will not help.

    This is permanent until someone acts: the device is not registered, is
    registered to another operator, was retired, or its registered public key
    is not this reader's key. Every tap of the refused batch is still pending in
    the local store; register the device (``Reader.public_key``) and upload again.

    Attributes:
        reason: the ``farebridge.v1.BatchRejectReason`` value the server gave,
            or ``BATCH_REJECT_REASON_UNSPECIFIED`` if it attached none.
        status_code: the gRPC status that ended the stream.
        detail: the server's human-readable message, for logs.
        batch_id: the refused batch, as echoed by the server ("" if unknown).
    """

    def __init__(
        self, reason: int, status_code: grpc.StatusCode, detail: str, batch_id: str
    ) -> None:
        super().__init__(
            f"batch {batch_id or '?'} rejected ({status_code.name}, reason {reason}): {detail}"
        )
        self.reason = reason
        self.status_code = status_code
        self.detail = detail
        self.batch_id = batch_id


class UploadIncompleteError(ReaderError):
    """The server stayed unreachable or kept failing, and retries ran out.

    Nothing is lost: the taps that were not acknowledged are still pending and
    durable on disk. Call ``upload()`` again later (for example on the next
    connectivity check); already-stored taps will simply answer DUPLICATE.

    Attributes:
        pending: how many taps are still waiting to be uploaded.
        last_status: the gRPC status of the last failed attempt.
    """

    def __init__(self, pending: int, last_status: grpc.StatusCode, detail: str) -> None:
        super().__init__(
            f"upload gave up with {pending} taps pending; last error {last_status.name}: {detail}"
        )
        self.pending = pending
        self.last_status = last_status
