"""Helpers shared by the interceptors."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    # The stubs make interceptors generic; the runtime class is not subscriptable.
    InterceptorBase = grpc.ServerInterceptor[Any, Any]
else:
    InterceptorBase = grpc.ServerInterceptor


def rewrap(
    handler: grpc.RpcMethodHandler[Any, Any],
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> grpc.RpcMethodHandler[Any, Any]:
    """The same handler with its behavior wrapped, whatever its streaming kind."""
    decode, encode = handler.request_deserializer, handler.response_serializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary), decode, encode)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream), decode, encode)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary), decode, encode)
    assert handler.stream_stream is not None
    return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream), decode, encode)


class MethodInterceptor(InterceptorBase):
    """Wraps the behavior of every farebridge method; health and reflection
    pass untouched."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not method.startswith("/farebridge."):
            return handler
        streaming = bool(handler.request_streaming)
        return rewrap(handler, lambda behavior: self.wrap(behavior, method, streaming))

    @abstractmethod
    def wrap(
        self, behavior: Callable[..., Any], method: str, request_streaming: bool
    ) -> Callable[..., Any]:
        """The behavior that runs instead of ``behavior`` for ``method``."""
