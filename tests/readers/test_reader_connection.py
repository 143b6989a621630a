"""mTLS to the clearing house: PEM files on disk, and certificates that name
another host than the address the reader dials."""

from __future__ import annotations

import pytest

from readers import TAP_DIRECTION_ON, ServerConnection, UploadIncompleteError

FAST = {"initial_backoff": 0.01, "max_backoff": 0.05, "timeout": 5}


def test_a_connection_reads_its_pem_files(pki, clearing_house, open_reader, tmp_path):
    files = {"ca.pem": pki.ca_cert, "operator.pem": pki.client_cert, "operator.key": pki.client_key}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    connection = ServerConnection.from_files(
        clearing_house.address,
        tmp_path / "ca.pem",
        tmp_path / "operator.pem",
        tmp_path / "operator.key",
    )
    reader = open_reader(connection=connection)
    reader.tap("card-alice", TAP_DIRECTION_ON)

    assert reader.upload().accepted == 1


def test_a_certificate_naming_another_host_needs_the_override(
    pki, start_clearing_house, open_reader
):
    aliased = start_clearing_house(server_cert=pki.aliased_server_cert)
    dial = (aliased.address, pki.ca_cert, pki.client_cert, pki.client_key)
    strict = open_reader("gate-strict", connection=ServerConnection(*dial))
    overridden = open_reader(
        "gate-override", connection=ServerConnection(*dial, server_name_override=pki.aliased_host)
    )
    for reader in (strict, overridden):
        aliased.fake.register(reader.device_id, reader.public_key)
        reader.tap("card-alice", TAP_DIRECTION_ON)

    with pytest.raises(UploadIncompleteError):
        strict.upload(max_attempts=1, **FAST)
    assert overridden.upload(**FAST).accepted == 1
