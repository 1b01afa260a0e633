"""Retention that runs (P17–P20): legal holds, the sweep that deletes, anonymises or isolates
vault items at their deadline, the plan of what will expire, the annual review report, and the
daily sweep as durable work.

Deadlines themselves are computed by the vault when data is collected and when an event starts
a clock (:mod:`troth.vault.retention`); this package acts on them. See docs/retention.md.
"""

from .holds import (
    VAULT,
    HoldAlreadyLifted,
    HoldInputError,
    UnknownHold,
    active_holds,
    is_active,
    lift_hold,
    list_holds,
    place_hold,
    vault_hold_condition,
)
from .models import HOLD_SCOPES, LegalHold, RetentionAggregate, RetentionSweep
from .plan import MONTHS, PlanRow, RetentionPlan, month_ends, plan_vault
from .report import Report, ReportRow, report_csv, report_html, review_report
from .schedule import SWEEP_JOB, next_sweep_time, retention_handlers, schedule_daily_sweep
from .sweep import DEFAULT_BATCH, SWEEP_ACTOR, SweepReport, sweep_vault

__all__ = [
    "DEFAULT_BATCH",
    "HOLD_SCOPES",
    "MONTHS",
    "SWEEP_ACTOR",
    "SWEEP_JOB",
    "VAULT",
    "HoldAlreadyLifted",
    "HoldInputError",
    "LegalHold",
    "PlanRow",
    "Report",
    "ReportRow",
    "RetentionAggregate",
    "RetentionPlan",
    "RetentionSweep",
    "SweepReport",
    "UnknownHold",
    "active_holds",
    "is_active",
    "lift_hold",
    "list_holds",
    "month_ends",
    "next_sweep_time",
    "place_hold",
    "plan_vault",
    "report_csv",
    "report_html",
    "retention_handlers",
    "review_report",
    "schedule_daily_sweep",
    "sweep_vault",
    "vault_hold_condition",
]
