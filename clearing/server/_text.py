"""Refuses text that no database of farebridge can store, as one interceptor.

PostgreSQL's text types cannot hold the NUL character: a request carrying
one would fail its whole transaction there with a server error, while
SQLite would store it (and several of its string functions stop at it), so
the same request would mean different things on the two databases. Every
string field of every request message (nested messages, repeated fields and
map keys included) is checked before any servicer code runs, and the first
NUL is refused with INVALID_ARGUMENT naming the field's path. Taps inside a
signed batch are bytes here; ingest checks their text tap by tap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from clearing.server._handlers import MethodInterceptor
from clearing.server._status import abort, bad_request

NUL = "\x00"


def _elements(path: str, descriptor: FieldDescriptor, value: Any) -> Iterator[tuple[str, Any]]:
    """(path, value) of each element of a field: the value itself, each item
    of a repeated field, or each key and each value of a map."""
    message_type = descriptor.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        for key, item in value.items():
            yield f"{path}[{key!r}]", key
            yield f"{path}[{key!r}]", item
    elif descriptor.is_repeated:
        for n, item in enumerate(value):
            yield f"{path}[{n}]", item
    else:
        yield path, value


def first_nul(message: Message, prefix: str = "") -> str | None:
    """The path of the first string in ``message`` that holds a NUL, as
    ``outer.inner[2].name`` or ``labels['key']``; None when there is none."""
    for descriptor, value in message.ListFields():
        name = f"{prefix}.{descriptor.name}" if prefix else descriptor.name
        for path, item in _elements(name, descriptor, value):
            if isinstance(item, Message):
                found = first_nul(item, path)
                if found is not None:
                    return found
            elif isinstance(item, str) and NUL in item:
                return path
    return None


def _refuse_nul(message: Message, context: grpc.ServicerContext) -> None:
    path = first_nul(message)
    if path is not None:
        reason = f"{path} must not contain a NUL character"
        abort(context, grpc.StatusCode.INVALID_ARGUMENT, reason, bad_request(path, reason))


def _checked_stream(
    requests: Iterator[Message], context: grpc.ServicerContext
) -> Iterator[Message]:
    for request in requests:
        _refuse_nul(request, context)
        yield request


def _checking(behavior: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
    def checked(request: Any, context: grpc.ServicerContext) -> Any:
        if streaming:
            return behavior(_checked_stream(request, context), context)
        _refuse_nul(request, context)
        return behavior(request, context)

    return checked


class TextInterceptor(MethodInterceptor):
    """Refuses any farebridge request whose text holds a NUL character."""

    def wrap(
        self, behavior: Callable[..., Any], method: str, request_streaming: bool
    ) -> Callable[..., Any]:
        return _checking(behavior, request_streaming)
