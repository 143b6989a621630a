"""The farebridge contract: protocol bindings (``farebridge.v1``) and the codecs
that every party must run identically (``farebridge.codecs``)."""
