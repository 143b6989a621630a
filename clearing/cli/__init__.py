"""The ``farebridge`` command line."""

from clearing.cli._main import app, main

__all__ = ["app", "main"]
