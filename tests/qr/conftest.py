"""Fixtures for the EMVCo merchant QR tests: published payloads and the CLI."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from clearing.cli._qr import app as qr_app

# EMV QRCPS Merchant-Presented Mode v1.1, Appendix A: the specification's own
# example (CRC A13A). It is also the "official sample" of ericsalim/exemvi's
# test suite (test/mpm_test.exs). 64 carries Chinese text whose lengths count
# characters, and the CRC covers its UTF-8 bytes.
EMVCO_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME9132001"
    "6A0112233449988770708123456786304A13A"
)

# Angmar2722/PayNowQRSwift, Tests/PayNowQRSwiftTests: UEN 201101550Z, "Qryptal",
# 50.00 fixed, expiry 2020-11-27, reference "AJ".
PAYNOW_QRYPTAL = (
    "00020101021226490009SG.PAYNOW010120210201101550Z030100408202011275204000053037025405"
    "50.005802SG5907Qryptal6009Singapore62060102AJ630488E9"
)


@pytest.fixture
def emvco_example() -> str:
    return EMVCO_EXAMPLE


@pytest.fixture
def paynow_qryptal() -> str:
    return PAYNOW_QRYPTAL


@pytest.fixture
def qr_cli() -> typer.Typer:
    """The ``qr`` commands mounted as ``farebridge qr`` mounts them."""
    root = typer.Typer()
    root.add_typer(qr_app, name="qr")

    @root.callback()
    def farebridge() -> None:
        """A root with a callback, so ``qr`` stays a sub-command."""

    return root


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
