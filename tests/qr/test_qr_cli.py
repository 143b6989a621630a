"""``farebridge qr`` as a user runs it: JSON a script can rely on, a table a
person can read, a clear error and exit code for a bad payload, never a
traceback."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from farebridge.codecs.emvco import parse_payload

PROMPTPAY_QR_MOBILE = (
    # dtinth/promptpay-qr, index.test.js, "Local phone number".
    "00020101021129370016A000000677010111011300668012345675802TH530376463046197"
)


def decode(runner: CliRunner, cli: typer.Typer, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["qr", "decode", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_decode_prints_tags_profile_and_violations_as_json(
    runner: CliRunner, qr_cli: typer.Typer, paynow_qryptal: str
) -> None:
    code, output = decode(runner, qr_cli, paynow_qryptal)
    assert code == 0
    report = json.loads(output)
    assert report["crc_valid"] is True
    assert report["profile"] == "paynow"
    assert report["violations"] == []
    assert report["tags"]["26"] == {
        "00": "SG.PAYNOW",
        "01": "2",
        "02": "201101550Z",
        "03": "0",
        "04": "20201127",
    }
    assert report["tags"]["54"] == "50.00"
    assert list(report["tags"]) == list(parse_payload(paynow_qryptal).tags)


def test_decode_keeps_payload_order_and_other_scripts(
    runner: CliRunner, qr_cli: typer.Typer, emvco_example: str
) -> None:
    code, output = decode(runner, qr_cli, "--json", emvco_example)
    report = json.loads(output)
    assert code == 0
    assert list(report["tags"])[8:10] == ["64", "54"]
    assert report["tags"]["64"]["01"] == "最佳运输"
    assert report["profile"] is None


def test_decode_lists_emvco_and_scheme_violations(runner: CliRunner, qr_cli: typer.Typer) -> None:
    code, output = decode(runner, qr_cli, PROMPTPAY_QR_MOBILE)
    report = json.loads(output)
    assert code == 0
    assert report["profile"] == "promptpay"
    assert [v["code"] for v in report["violations"]] == ["missing_tag"] * 3
    assert "merchant name (59)" in report["violations"][1]["message"]


def test_decode_of_a_damaged_payload_is_a_json_error_and_exit_1(
    runner: CliRunner, qr_cli: typer.Typer, paynow_qryptal: str
) -> None:
    code, output = decode(runner, qr_cli, paynow_qryptal[:-1] + "0")
    assert code == 1
    assert json.loads(output)["error"] == "bad_crc"


def test_decode_of_text_that_is_no_payload_names_the_fault(
    runner: CliRunner, qr_cli: typer.Typer
) -> None:
    code, output = decode(runner, qr_cli, "https://example.com/pay")
    assert code == 1
    error = json.loads(output)
    assert error["error"] == "bad_tag_id"
    assert "two-digit id" in error["message"]


def test_decode_table_for_people(
    runner: CliRunner, qr_cli: typer.Typer, paynow_qryptal: str
) -> None:
    code, output = decode(runner, qr_cli, "--table", paynow_qryptal)
    assert code == 0
    assert "26.02" in output
    assert "201101550Z" in output
    assert "merchant name" in output
    assert "scheme: paynow" in output


def test_decode_table_error_exits_1_with_the_code(runner: CliRunner, qr_cli: typer.Typer) -> None:
    code, output = decode(runner, qr_cli, "--table", "0002")
    assert code == 1
    assert "truncated" in output


def test_paynow_prints_the_payload(
    runner: CliRunner, qr_cli: typer.Typer, paynow_qryptal: str
) -> None:
    result = runner.invoke(
        qr_cli,
        ["qr", "paynow", "--proxy-type", "uen", "--proxy", "201101550Z", "--amount", "50.00",
         "--fixed", "--expiry", "2020-11-27", "--merchant-name", "Qryptal", "--reference", "AJ"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip() == paynow_qryptal


def test_paynow_static_code_without_amount(runner: CliRunner, qr_cli: typer.Typer) -> None:
    result = runner.invoke(
        qr_cli, ["qr", "paynow", "--proxy-type", "mobile", "--proxy", "+6591234567"]
    )
    assert result.exit_code == 0, result.output
    payload = parse_payload(result.output.strip())
    assert payload.is_static
    assert payload.amount_minor is None
    assert payload.template("26") == {
        "00": "SG.PAYNOW",
        "01": "0",
        "02": "+6591234567",
        "03": "1",
    }


def test_paynow_renders_png_and_svg(runner: CliRunner, qr_cli: typer.Typer, tmp_path: Path) -> None:
    png, svg = tmp_path / "pay.png", tmp_path / "pay.svg"
    result = runner.invoke(
        qr_cli,
        ["qr", "paynow", "--proxy-type", "uen", "--proxy", "201403121W", "--amount", "2.40",
         "--png", str(png), "--svg", str(svg)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in svg.read_bytes()


def test_paynow_mistakes_end_with_a_message_and_exit_2(
    runner: CliRunner, qr_cli: typer.Typer
) -> None:
    cases = [
        (["--proxy-type", "mobile", "--proxy", "91234567"], "bad_proxy"),
        (["--proxy-type", "uen", "--proxy", "201403121W", "--amount", "1.005"], "bad_format"),
        (["--proxy-type", "uen", "--proxy", "201403121W", "--fixed"], "amount_required"),
        (["--proxy-type", "uen", "--proxy", "201403121W", "--expiry", "27/11/2020"], "YYYY-MM-DD"),
    ]
    for args, words in cases:
        result = runner.invoke(qr_cli, ["qr", "paynow", *args])
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output
        assert "Traceback" not in result.output
