"""Clearing cycles: freeze what the ledger holds at a cut-off, and settle who
owes whom, per participant and currency, with a signed report. See docs.md.

Closing is set-based: one INSERT ... SELECT claims every transfer committed
by the cut-off that no earlier cycle cleared, and grouped queries compute
positions. The primary key of ``cycle_transfers`` guarantees each transfer
is cleared in exactly one cycle, even if two closes race.
"""

from clearing.ledger import post_chains
from clearing.settlement._cycles import (
    CycleSummary,
    close_cycle,
    cycle_summary,
    latest_cycle_number,
)
from clearing.settlement._fees import (
    Fee,
    FeeSchedule,
    fee_amount,
    load_fee_schedules,
    set_fee_schedule,
)
from clearing.settlement._fx import (
    FxRate,
    FxRates,
    bridge,
    clearing_house_id,
    convert,
    open_cycle_number,
    parse_rate,
    publish_rates,
    rates_in_force,
    round_half_up,
)
from clearing.settlement._netting import (
    Direction,
    Instruction,
    Position,
    net_sums,
    settlement_instructions,
)
from clearing.settlement._reports import (
    REPORT_DOMAIN,
    ReportError,
    SettlementDesk,
    build_report,
    cycle_messages,
    report_csv,
    report_json,
    report_view,
    sign_report,
    verify_report,
    verify_report_json,
)
from clearing.settlement._schedule import CycleSchedule, parse_schedule
from clearing.settlement._top_ups import AgentTopUp, record_agent_top_up

__all__ = [
    "REPORT_DOMAIN",
    "AgentTopUp",
    "CycleSchedule",
    "CycleSummary",
    "Direction",
    "Fee",
    "FeeSchedule",
    "FxRate",
    "FxRates",
    "Instruction",
    "Position",
    "ReportError",
    "SettlementDesk",
    "bridge",
    "build_report",
    "clearing_house_id",
    "close_cycle",
    "convert",
    "cycle_messages",
    "cycle_summary",
    "fee_amount",
    "latest_cycle_number",
    "load_fee_schedules",
    "net_sums",
    "open_cycle_number",
    "parse_rate",
    "parse_schedule",
    "post_chains",
    "publish_rates",
    "rates_in_force",
    "record_agent_top_up",
    "report_csv",
    "report_json",
    "report_view",
    "round_half_up",
    "set_fee_schedule",
    "settlement_instructions",
    "sign_report",
    "verify_report",
    "verify_report_json",
]
