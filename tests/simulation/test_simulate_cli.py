"""``farebridge simulate`` and ``farebridge demo`` from the command line:
the JSON summary, and an exit status that follows the checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FAREBRIDGE = [sys.executable, "-c", "from clearing.cli import main; main()"]


def farebridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FAREBRIDGE, *args], check=False, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", ["simulate", "demo"])
def test_the_summary_reports_the_day_and_the_exit_status_follows_the_checks(
    command: str, tmp_path: Path
) -> None:
    result = farebridge(
        command, "--riders", "15", "--seed", "3", "--day", "2026-03-10", "--json",
        "--work-dir", str(tmp_path),
    )  # fmt: skip
    summary = json.loads(result.stdout)
    assert result.returncode == (0 if summary["passed"] else 1), result.stderr
    assert summary["passed"] == all(check["passed"] for check in summary["checks"])
    assert summary["taps"] > 0
    assert summary["accepted"] == summary["taps"]
    assert summary["net_sums"] == {"EUR": 0, "SGD": 0}, "CityWallet's riders pay from SGD"
    assert set(summary["revenue_minor"]) <= {"metro-co", "bus-co", "ferry-co"}
    assert len(summary["checkpoint"]["root_hash"]) == 64
    assert (tmp_path / "farebridge.db").is_file()
    assert len(list((tmp_path / "reader-logs").glob("*.csv"))) == 25


def test_a_bad_day_is_a_one_line_error() -> None:
    result = farebridge("simulate", "--day", "yesterday")
    assert result.returncode == 2
    assert "is not a date" in result.stderr
