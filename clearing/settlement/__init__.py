"""Clearing cycles: freeze what the ledger holds, and compute who owes whom.

Closing is set-based: one INSERT ... SELECT claims every transfer that no
earlier cycle cleared, and one grouped query per side computes positions.
The primary key of ``cycle_transfers`` guarantees each transfer is cleared
in exactly one cycle, even if two closes race.
"""

from clearing.settlement._cycles import (
    CycleSummary,
    Position,
    close_cycle,
    cycle_summary,
)

__all__ = ["CycleSummary", "Position", "close_cycle", "cycle_summary"]
