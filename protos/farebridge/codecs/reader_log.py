"""The reader log: what a reader saw, as an operator hands it to an auditor.

A CSV file with a header row and these columns, in this order:

==================  =========================================================
column              meaning
==================  =========================================================
tap_id              the tap's idempotency key
device_id           the reader
device_sequence     the reader's sequence number (1, 2, 3... with no gaps)
tapped_at           ISO 8601 instant with offset, microseconds
medium_token        the token of the card, wallet or ride code
direction           ``on`` or ``off``
state               ``pending``, ``accepted``, ``duplicate`` or ``rejected``:
                    what the clearing house answered (pending: not yet sent)
reject_reason       the TapRejectReason name when rejected, else empty
card_counter        a stored-value card's transaction counter, else empty
card_debit_minor    what the card debited, in minor units, else empty
==================  =========================================================

Readers write it (``readers.Reader.export_log``); ``farebridge audit
reconcile`` reads it. Both go through this module, so they cannot disagree.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

COLUMNS = (
    "tap_id", "device_id", "device_sequence", "tapped_at", "medium_token", "direction",
    "state", "reject_reason", "card_counter", "card_debit_minor",
)  # fmt: skip
STATES = frozenset({"pending", "accepted", "duplicate", "rejected"})


class ReaderLogError(ValueError):
    """A reader log line is malformed; ``line`` is its 1-based line number
    (the header is line 1). Fix or re-export the log."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class ReaderLogRow:
    """One line of a reader log (see the module's table)."""

    tap_id: str
    device_id: str
    device_sequence: int
    tapped_at: datetime
    medium_token: str
    direction: str
    state: str
    reject_reason: str = ""
    card_counter: int | None = None
    card_debit_minor: int | None = None


def write_reader_log(rows: Iterable[ReaderLogRow], out: TextIO) -> int:
    """Writes the header and every row; answers how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(
            (
                row.tap_id, row.device_id, row.device_sequence,
                row.tapped_at.isoformat(timespec="microseconds"), row.medium_token,
                row.direction, row.state, row.reject_reason,
                "" if row.card_counter is None else row.card_counter,
                "" if row.card_debit_minor is None else row.card_debit_minor,
            )
        )  # fmt: skip
        count += 1
    return count


def _optional_int(text: str, line: int, name: str) -> int | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ReaderLogError(line, f"{name} must be an integer, not {text!r}") from None


def _row(values: list[str], line: int) -> ReaderLogRow:
    """One line; positional on purpose (a million lines is a normal audit)."""
    if len(values) != len(COLUMNS):
        raise ReaderLogError(line, f"{len(values)} fields; a reader log line has {len(COLUMNS)}")
    tap_id, device, sequence, at, token, direction, state, reason, counter, debit = values
    try:
        tapped_at = datetime.fromisoformat(at)
        number = int(sequence)
    except ValueError as error:
        raise ReaderLogError(line, str(error)) from None
    if tapped_at.tzinfo is None:
        raise ReaderLogError(line, "tapped_at needs a UTC offset")
    if direction not in ("on", "off"):
        raise ReaderLogError(line, f"direction must be on or off, not {direction!r}")
    if state not in STATES:
        raise ReaderLogError(line, f"state must be one of {sorted(STATES)}")
    return ReaderLogRow(
        tap_id, device, number, tapped_at, token, direction, state, reason,
        _optional_int(counter, line, "card_counter") if counter else None,
        _optional_int(debit, line, "card_debit_minor") if debit else None,
    )  # fmt: skip


def read_reader_log(source: TextIO) -> Iterator[ReaderLogRow]:
    """Yields the rows, checking the header first; raises ReaderLogError."""
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise ReaderLogError(1, f"the header must be {','.join(COLUMNS)}")
    for line, values in enumerate(reader, start=2):
        yield _row(values, line)
