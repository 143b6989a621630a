"""Maps the engine's errors to gRPC statuses with details, as one interceptor.

Servicers raise domain errors (clearing.errors); this is the one place that
decides which status code each deserves. An unexpected exception becomes
INTERNAL with no detail of the server's internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from types import GeneratorType
from typing import Any, NoReturn

import grpc

from clearing.errors import (
    ConflictError,
    FarebridgeError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    NothingToCloseError,
)
from clearing.server._handlers import MethodInterceptor
from clearing.server._status import abort, bad_request, error_info

log = logging.getLogger(__name__)


def _abort_for(error: FarebridgeError, context: grpc.ServicerContext) -> NoReturn:
    message = str(error)
    if isinstance(error, InvalidRequestError):
        abort(context, grpc.StatusCode.INVALID_ARGUMENT, message, bad_request(error.field, message))
    if isinstance(error, ConflictError):
        abort(
            context,
            grpc.StatusCode.ALREADY_EXISTS,
            message,
            error_info("EXISTS_WITH_DIFFERENT_CONTENT", field=error.field),
        )
    if isinstance(error, NotFoundError):
        abort(context, grpc.StatusCode.NOT_FOUND, message, error_info("NOT_FOUND"))
    if isinstance(error, ForbiddenError):
        abort(context, grpc.StatusCode.PERMISSION_DENIED, message, error_info("FORBIDDEN"))
    if isinstance(error, NothingToCloseError):
        abort(context, grpc.StatusCode.FAILED_PRECONDITION, message, error_info("NOTHING_TO_CLOSE"))
    abort(context, grpc.StatusCode.INTERNAL, message, error_info("INTERNAL"))


def _stream(responses: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
    try:
        yield from responses
    except FarebridgeError as error:
        _abort_for(error, context)


def _translating(behavior: Callable[..., Any]) -> Callable[..., Any]:
    def translated(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            result = behavior(request, context)
        except FarebridgeError as error:
            _abort_for(error, context)
        if isinstance(result, GeneratorType):
            return _stream(result, context)
        return result

    return translated


class ErrorInterceptor(MethodInterceptor):
    """Turns clearing.errors into statuses with google.rpc details."""

    def wrap(
        self, behavior: Callable[..., Any], method: str, request_streaming: bool
    ) -> Callable[..., Any]:
        return _translating(behavior)
