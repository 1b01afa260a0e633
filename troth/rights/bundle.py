"""The access and portability export (P10, P13): everything troth holds about a subject, as a
zip of ``data.json`` (machine-readable), one CSV per category, and ``summary.html`` to read.

The zip is stored encrypted under the subject's key with an expiry, and handed out through an
expiring signed link (:func:`bundle_for_download`), each download audited. It holds the vault's
items decrypted, the subject's identities (their own data, values included), the consent
history, the declared recipients that receive those categories for those purposes, and the rows
found in each connected company database (``datasets``: per dataset, per table).
"""

from __future__ import annotations

import csv
import html
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from troth.audit import Actor
from troth.consent import history
from troth.declaration import Policy
from troth.notify import sign_link, verify_link
from troth.subjects import Keyring
from troth.subjects.registry import identities_of
from troth.vault import StoredItem, items_of

from .plan import PlannedItem, recipients_for
from .requests import get_request, note
from .sealed import open_bytes

BUNDLE_TTL = timedelta(days=14)
DOWNLOAD_PURPOSE = "rights.download"
# Where the privacy center serves the download; the token is the link's only parameter.
DOWNLOAD_PATH = "/center/requests/download"
CSV_COLUMNS = (
    "collected_at",
    "value",
    "source",
    "purpose",
    "collection_point",
    "retention_rule",
    "retain_until",
    "isolated_at",
)


class BundleGone(LookupError):
    """The export was never made, has expired, or was erased with its subject."""


@dataclass(frozen=True)
class Download:
    filename: str
    content: bytes


def item_json(item: StoredItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "submission_id": item.submission_id,
        "category": item.category,
        "value": item.value,
        "source": item.source,
        "purpose": item.purpose,
        "collection_point": item.collection_point,
        "collected_at": item.collected_at.isoformat(),
        "retention_rule": item.retention_rule,
        "retain_until": item.retain_until.isoformat() if item.retain_until else None,
        "waiting_for": item.waiting_for,
        "isolated_at": item.isolated_at.isoformat() if item.isolated_at else None,
    }


def collect_data(
    session: Session, policy: Policy, keyring: Keyring, subject_id: str, now: datetime
) -> dict[str, Any]:
    """Everything held about the subject, as ``data.json`` states it. Items a retention rule
    isolated are included (P10: everything held), marked with ``isolated_at``: isolation keeps
    them from staff, not from the person they are about."""
    items = items_of(session, keyring, subject_id, include_isolated=True)
    planned = [PlannedItem(i.id, i.category, i.purpose) for i in items]
    recipients = []
    for notice in recipients_for(policy, planned):
        declared = policy.recipients[notice.recipient]
        recipients.append(
            {
                "key": declared.key,
                "name": declared.name,
                "kind": declared.kind,
                "country": declared.country,
                "categories": list(notice.categories),
                "purposes": sorted({i.purpose for i in items} & set(declared.purposes))
                if declared.purposes
                else sorted({i.purpose for i in items}),
            }
        )
    return {
        "subject_id": subject_id,
        "organization": policy.organization_name,
        "policy_version": policy.version,
        "generated_at": now.isoformat(),
        "identities": [
            {"kind": i.kind.value, "value": i.value}
            for i in identities_of(session, keyring, subject_id)
        ],
        "items": [item_json(item) for item in items],
        "consent_history": [
            {
                "record_id": event.record_id,
                "purpose": event.purpose,
                "state": event.state,
                "occurred_at": event.occurred_at.isoformat(),
                "expires_at": event.expires_at.isoformat() if event.expires_at else None,
                "method": event.method,
                "acted_by": event.acted_by,
                "policy_version": event.policy_version,
            }
            for event in history(session, subject_id)
        ],
        "recipients": recipients,
    }


def _csv(rows: list[dict[str, Any]], columns: Sequence[str] = CSV_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def summary_html(policy: Policy, data: dict[str, Any]) -> str:
    """The readable summary (summary.html) of ``data``."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Your data held by {e(policy.organization_name)}</title></head><body>",
        f"<h1>Your data held by {e(policy.organization_name)}</h1>",
        f"<p>Prepared {e(data['generated_at'])} under policy version "
        f"{e(data['policy_version'])}.</p><h2>How we know you</h2><ul>",
    ]
    parts += [f"<li>{e(i['kind'])}: {e(i['value'])}</li>" for i in data["identities"]]
    parts.append(
        "</ul><h2>What we hold</h2><table><tr><th>Category</th><th>Value</th>"
        "<th>Purpose</th><th>Collected</th><th>Kept until</th></tr>"
    )
    for item in data["items"]:
        category = policy.categories.get(item["category"])
        label = category.name if category is not None else item["category"]
        until = item["retain_until"] or f"after {item['waiting_for']}"
        if item.get("isolated_at"):
            until = f"archived since {item['isolated_at']}, out of our staff's reach"
        parts.append(
            f"<tr><td>{e(label)}</td><td>{e(item['value'])}</td><td>{e(item['purpose'])}</td>"
            f"<td>{e(item['collected_at'])}</td><td>{e(str(until))}</td></tr>"
        )
    parts.append("</table>")
    found = {k: c for k, c in sorted(data.get("datasets", {}).items()) if any(c.values())}
    if found:
        parts.append("<h2>In our other systems</h2>")
    for key, collections in found.items():
        for collection, rows in collections.items():
            if not rows:
                continue
            columns = list(rows[0])
            parts.append(
                f"<h3>{e(collection)} ({e(key)})</h3><table><tr>"
                + "".join(f"<th>{e(c)}</th>" for c in columns)
                + "</tr>"
            )
            for row in rows:
                cells = "".join(f"<td>{e('' if v is None else str(v))}</td>" for v in row.values())
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</table>")
    parts.append("<h2>Your consent choices</h2><ul>")
    parts += [
        f"<li>{e(c['occurred_at'])}: {e(c['purpose'])} {e(c['state'])}</li>"
        for c in data["consent_history"]
    ]
    parts.append("</ul><h2>Who received it</h2><ul>")
    parts += [
        f"<li>{e(r['name'])} ({e(r['kind'])}, {e(str(r['country'] or ''))}): "
        f"{e(', '.join(r['categories']))}</li>"
        for r in data["recipients"]
    ]
    parts.append("</ul></body></html>")
    return "".join(parts)


def build_bundle(policy: Policy, data: dict[str, Any]) -> bytes:
    """The zip for ``data`` (as :func:`collect_data` returns it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2))
        by_category: dict[str, list[dict[str, Any]]] = {}
        for item in data["items"]:
            by_category.setdefault(item["category"], []).append(item)
        for category, rows in sorted(by_category.items()):
            archive.writestr(f"categories/{category}.csv", _csv(rows))
        # rows found in the company's own databases (troth.datasets), one CSV per table
        for key, collections in sorted(data.get("datasets", {}).items()):
            for collection, rows in collections.items():
                if rows:
                    archive.writestr(f"datasets/{key}/{collection}.csv", _csv(rows, list(rows[0])))
        archive.writestr("summary.html", summary_html(policy, data))
    return out.getvalue()


def download_link(keyring: Keyring, base_url: str, request_id: str, expires_at: datetime) -> str:
    token = sign_link(keyring, DOWNLOAD_PURPOSE, {"request_id": request_id}, expires_at)
    return f"{base_url.rstrip('/')}{DOWNLOAD_PATH}?token={token}"


def bundle_for_download(
    session: Session, keyring: Keyring, token: str, *, now: datetime, actor: Actor | None = None
) -> Download:
    """The export a download link names, decrypted, with the audit event
    ``rights.bundle_downloaded``. Raises troth.notify's LinkError subclasses for a bad or
    expired link, :class:`BundleGone` when there is no export to hand out any more."""
    payload = verify_link(keyring, token, DOWNLOAD_PURPOSE, now)
    request = get_request(session, str(payload["request_id"]))
    if request.bundle is None or request.bundle_expires_at is None:
        raise BundleGone("there is no export for this request")
    if request.bundle_expires_at <= now:
        raise BundleGone("this export has expired; ask for a new one")
    content = open_bytes(session, keyring, request.subject_id, request.id, "bundle", request.bundle)
    note(
        session,
        request,
        "bundle_downloaded",
        now=now,
        actor=actor or Actor.subject(request.subject_id),
        details={"bytes": len(content)},
    )
    return Download(f"{request.kind}-{request.id}.zip", content)
