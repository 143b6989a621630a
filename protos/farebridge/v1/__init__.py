"""Generated bindings of the ``farebridge.v1`` protocol (see the ``.proto`` files)."""
