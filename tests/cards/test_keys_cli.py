"""``farebridge keys diversify`` as an issuer's operator runs it: the card key
in hex, or a one-line error and exit code 2 for a mistake, never a traceback."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner, Result

from clearing.cli._keys import app as keys_app

AN10922_ARGS = [
    "--master",
    "00112233445566778899AABBCCDDEEFF",
    "--uid",
    "04782E21801D80",
    "--aid",
    "3042F5",
    "--system-id",
    "NXP Abu",
]
AN10922_KEY = "A8DD63A3B89D54B37CA802473FDA9175"  # NXP AN10922 §2.2.1


def _farebridge(*args: str) -> Result:
    root = typer.Typer(pretty_exceptions_enable=False)
    root.add_typer(keys_app, name="keys")
    return CliRunner().invoke(root, ["keys", "diversify", *args])


def test_prints_the_diversified_key_in_uppercase_hex() -> None:
    result = _farebridge(*AN10922_ARGS)
    assert result.exit_code == 0, result.output
    assert result.stdout == AN10922_KEY + "\n"


def test_prints_json_for_machines() -> None:
    result = _farebridge(*AN10922_ARGS, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"key": AN10922_KEY}


def test_accepts_lowercase_and_separated_hex() -> None:
    args = [a.lower() for a in AN10922_ARGS[:6]] + AN10922_ARGS[6:]
    args[3] = "04:78:2e:21:80:1d:80"
    result = _farebridge(*args)
    assert result.stdout == AN10922_KEY + "\n"


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--master", "00112233445566778899AABBCCDDEEFG", "--master must be hex digits"),
        ("--uid", "04782E21801D8", "--uid must be hex digits"),
        ("--master", "0011223344556677", "master key has 16 bytes, not 8"),
        ("--uid", "04782E2180", "UID has 4, 7 or 10 bytes, not 5"),
        ("--system-id", "a system identifier that is far too long", "allows at most 31"),
        ("--aid", "[bold]zz", "--aid must be hex digits, two per byte; got '[bold]zz'"),
    ],
)
def test_a_mistake_is_one_line_on_stderr_and_exit_code_2(
    option: str, value: str, words: str
) -> None:
    args = list(AN10922_ARGS)
    args[args.index(option) + 1] = value
    result = _farebridge(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_missing_option_is_a_usage_error() -> None:
    result = _farebridge(*AN10922_ARGS[:6])
    assert result.exit_code == 2
    assert "--system-id" in result.stderr
