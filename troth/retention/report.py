"""The annual review report (P20): for each retention rule, what troth holds, how much, since
when, under which legal basis and why, and which legal holds keep data past its deadline.

Counts and vocabulary only (rules, categories, hold ids and reasons): no value of anyone's data.
A subject hold's target is a subject's troth id, as in the audit trail. Rendered as CSV (one row
per rule) and as a standalone HTML page; the console shows the same report.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from troth.declaration import Policy
from troth.vault.models import VaultItem

from .holds import active_holds, applies_to_vault, vault_hold_condition
from .models import LegalHold, RetentionAggregate, RetentionSweep
from .sweep import SOURCE

CSV_COLUMNS = (
    "source",
    "rule",
    "name",
    "action",
    "period",
    "starts_at",
    "legal_basis",
    "reason",
    "categories",
    "items",
    "isolated",
    "waiting_for_event",
    "oldest_collected_at",
    "anonymised_counted",
    "legal_holds",
)


@dataclass(frozen=True)
class HoldCount:
    hold_id: str
    items: int


@dataclass
class ReportRow:
    source: str
    rule: str
    name: str
    action: str
    period: str
    starts_at: str
    legal_basis: str | None
    reason: str | None
    categories: list[str] = field(default_factory=list)
    items: int = 0
    isolated: int = 0
    waiting: int = 0
    oldest: datetime | None = None
    anonymised: int = 0
    holds: list[HoldCount] = field(default_factory=list)

    @property
    def declared(self) -> bool:
        return bool(self.name)


@dataclass
class Report:
    organization: str
    policy_version: str
    now: datetime
    rows: list[ReportRow]
    holds: list[LegalHold]
    last_sweep: RetentionSweep | None


def _row(policy: Policy, key: str) -> ReportRow:
    rule = policy.retention_rules.get(key)
    if rule is None:  # items kept under a rule a later declaration dropped
        return ReportRow(SOURCE, key, "", "", "", "", None, None)
    return ReportRow(
        source=SOURCE,
        rule=rule.key,
        name=rule.name,
        action=rule.action,
        period=rule.period.iso(),
        starts_at=rule.starts_at,
        legal_basis=rule.legal_basis,
        reason=rule.reason,
    )


def review_report(session: Session, policy: Policy, now: datetime) -> Report:
    """The review report at ``now``: every declared rule (and any rule items still carry that
    the declaration no longer has), with the active legal holds."""
    rows = {rule.key: _row(policy, rule.key) for rule in policy.declaration.retention}
    grouped = session.execute(
        select(
            VaultItem.retention_rule,
            VaultItem.category,
            func.count(),
            func.count(VaultItem.isolated_at),
            func.min(VaultItem.collected_at),
        ).group_by(VaultItem.retention_rule, VaultItem.category)
    ).all()
    for key, category, count, isolated, oldest in grouped:
        row = rows.setdefault(key, _row(policy, key))
        row.categories.append(category)
        row.items += count - isolated
        row.isolated += isolated
        if oldest is not None and (row.oldest is None or oldest < row.oldest):
            row.oldest = oldest
    waiting = session.execute(
        select(VaultItem.retention_rule, func.count())
        .where(VaultItem.retain_until.is_(None))
        .group_by(VaultItem.retention_rule)
    ).all()
    for key, count in waiting:
        rows[key].waiting = count
    anonymised = session.execute(
        select(RetentionAggregate.rule, func.sum(RetentionAggregate.count))
        .where(RetentionAggregate.source == SOURCE)
        .group_by(RetentionAggregate.rule)
    ).all()
    for key, count in anonymised:
        rows.setdefault(key, _row(policy, key)).anonymised = int(count or 0)
    holds = active_holds(session, now)
    for hold in holds:
        if not applies_to_vault(hold):
            continue
        covered = session.execute(
            select(VaultItem.retention_rule, func.count())
            .where(vault_hold_condition(session, [hold]))
            .group_by(VaultItem.retention_rule)
        ).all()
        for key, count in covered:
            rows[key].holds.append(HoldCount(hold.id, count))
    for row in rows.values():
        row.categories.sort()
    last = session.scalars(
        select(RetentionSweep)
        .where(RetentionSweep.finished_at.is_not(None))
        .order_by(RetentionSweep.started_at.desc())
        .limit(1)
    ).first()
    return Report(
        organization=policy.organization_name,
        policy_version=policy.version,
        now=now,
        rows=list(rows.values()),
        holds=holds,
        last_sweep=last,
    )


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


def basis_words(basis: str | None) -> str:
    if basis is None:
        return ""
    return basis.replace("_", " ")


def report_csv(report: Report) -> str:
    """One row per rule, with a header (CSV_COLUMNS)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow(
            [
                row.source,
                row.rule,
                row.name,
                row.action,
                row.period,
                row.starts_at,
                row.legal_basis or "",
                row.reason or "",
                ";".join(row.categories),
                row.items,
                row.isolated,
                row.waiting,
                _day(row.oldest),
                row.anonymised,
                ";".join(f"{h.hold_id}:{h.items}" for h in row.holds),
            ]
        )
    return out.getvalue()


def _cell(value: object) -> str:
    return f"<td>{escape(str(value))}</td>"


def report_html(report: Report) -> str:
    """The report as a standalone HTML page (every text escaped)."""
    title = f"Retention review, {report.organization}, {_day(report.now)}"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}"
        "th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}"
        "</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Declaration version {escape(report.policy_version)}. Counts of items in troth's "
        "vault per retention rule; no personal data.</p>",
        "<table><caption>What is held, per retention rule</caption><thead><tr>",
        "".join(
            f'<th scope="col">{escape(h)}</th>'
            for h in (
                "Rule",
                "Action",
                "Kept for",
                "Legal basis",
                "Reason",
                "Categories",
                "Items",
                "Isolated",
                "Waiting for event",
                "Oldest",
                "Anonymised (counted)",
                "Legal holds",
            )
        ),
        "</tr></thead><tbody>",
    ]
    for row in report.rows:
        name = row.name or "(no longer declared)"
        kept = f"{row.period} from {row.starts_at}" if row.period else ""
        holds = ", ".join(f"{h.hold_id} ({h.items})" for h in row.holds)
        parts.append(
            f'<tr><th scope="row">{escape(name)} <code>{escape(row.rule)}</code></th>'
            + "".join(
                _cell(v)
                for v in (
                    row.action,
                    kept,
                    basis_words(row.legal_basis),
                    row.reason or "",
                    ", ".join(row.categories),
                    row.items,
                    row.isolated,
                    row.waiting,
                    _day(row.oldest),
                    row.anonymised,
                    holds,
                )
            )
            + "</tr>"
        )
    parts.append("</tbody></table>")
    parts.append("<h2>Active legal holds</h2>")
    if not report.holds:
        parts.append("<p>No legal hold is in force.</p>")
    else:
        parts.append(
            "<table><thead><tr>"
            + "".join(
                f'<th scope="col">{h}</th>'
                for h in ("Hold", "Scope", "Target", "Reason", "Placed by", "Placed", "Until")
            )
            + "</tr></thead><tbody>"
        )
        for hold in report.holds:
            parts.append(
                "<tr>"
                + "".join(
                    _cell(v)
                    for v in (
                        hold.id,
                        hold.scope,
                        hold.target,
                        hold.reason,
                        hold.placed_by,
                        _day(hold.placed_at),
                        _day(hold.until) or "until lifted",
                    )
                )
                + "</tr>"
            )
        parts.append("</tbody></table>")
    if report.last_sweep is not None and report.last_sweep.finished_at is not None:
        parts.append(f"<p>Last retention sweep: {_day(report.last_sweep.finished_at)}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
