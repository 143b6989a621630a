"""The gRPC server: mTLS, one interceptor per concern, one servicer per service."""

from clearing.ledger import ledger_origin
from clearing.server._app import RunningServer, ServerSettings, start_server
from clearing.server._collector import tune_collector_for_serving

__all__ = [
    "RunningServer",
    "ServerSettings",
    "ledger_origin",
    "start_server",
    "tune_collector_for_serving",
]
