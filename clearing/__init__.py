"""The farebridge clearing engine: ingest, pricing, ledger, settlement, audit,
storage, the gRPC server and the ``farebridge`` command line."""
