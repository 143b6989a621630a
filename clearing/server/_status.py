"""Rich gRPC errors: a status code, a message, and ``google.rpc`` details
that a client can read with ``grpc_status.rpc_status.from_call``."""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "farebridge.v1"


def abort(
    context: grpc.ServicerContext, code: grpc.StatusCode, message: str, *details: Message
) -> NoReturn:
    """Ends the call with ``code`` and ``details`` packed into google.rpc.Status."""
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    status = status_pb2.Status(code=_rpc_code(code), message=message, details=packed)
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returned")  # pragma: no cover


def error_info(reason: str, **metadata: str) -> error_details_pb2.ErrorInfo:
    """A machine-readable reason in UPPER_SNAKE_CASE, as google.rpc prescribes."""
    return error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata)


def bad_request(field: str, description: str) -> error_details_pb2.BadRequest:
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
    return error_details_pb2.BadRequest(field_violations=[violation])


def _rpc_code(code: grpc.StatusCode) -> int:
    number = code.value[0]
    assert isinstance(number, int)
    assert code_pb2.Code.Name(number)  # every grpc.StatusCode has a google.rpc.Code twin
    return number
