"""Where the clearing house is and how this operator proves who it is (mTLS)."""

from farebridge.codecs.mtls import ServerConnection

__all__ = ["ServerConnection"]
