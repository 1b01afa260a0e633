"""Rights requests from the privacy center (P10–P15): file one, follow it, download the export.

``/center/requests/new`` needs the verified center session: the request is filed for the
session's own subject (or, for a parent or nominee, for the address they name, with them as the
requester) and recorded as verified at once (troth.rights ``mark_verified``, method
``email_code`` or ``email_link``, as the session was proved). ``/center/requests/{id}`` shows a
request's state, deadlines and result to the subject's own session, or to whoever holds the
signed status link from an email; anyone else gets 404, so ids cannot be probed.
``/center/requests/download?token=…`` hands out the access or portability export only to a
session of the request's subject verified within the last 15 minutes: the download link alone,
forwarded or leaked, is not enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from troth.audit import Actor
from troth.notify import ExpiredLink, LinkError, verify_link
from troth.rights import (
    BundleGone,
    Download,
    RequestInputError,
    RightsRequest,
    UnknownRequest,
    bundle_for_download,
    create_request,
    get_request,
    linked_request,
    mark_verified,
    status_link,
)
from troth.rights.bundle import DOWNLOAD_PURPOSE, download_link
from troth.rights.requests import KIND_LABELS, reasons_of
from troth.store import write_scope
from troth.subjects import IdentityKind, Keyring
from troth.subjects.registry import ShreddedSubject, UnknownSubject, identities_of

from ..site import site
from .pages import _redirect, forbidden, message, page, read_form, unavailable
from .security import center_session, form_token_ok, session_subject

router = APIRouter(prefix="/center/requests", include_in_schema=False)
# A download needs the address proved this recently (a fresh code or link).
REVERIFY_WITHIN = timedelta(minutes=15)
ON_BEHALF = {
    "self": "Myself",
    "parent": "My child (I am their parent or guardian)",
    "nominee": "Someone who nominated me to act for them",
}


def offered_kinds(request: Request) -> list[tuple[str, str]]:
    """The rights this declaration offers that the center can file, with their labels."""
    rights = site(request).policy.declaration.rights
    return [(kind, label) for kind, label in KIND_LABELS.items() if rights.offer(kind) is not None]


def _email_of(session: Any, keyring: Keyring, subject_id: str) -> str:
    """An email address of the signed-in subject (the one they proved resolves to them)."""
    for identity in identities_of(session, keyring, subject_id):
        if identity.kind is IdentityKind.email:
            return identity.value
    raise UnknownSubject(subject_id)


def _form(
    request: Request, values: dict[str, str], error: tuple[str, str] | None = None
) -> Response:
    categories = sorted(
        ((c.key, c.name) for c in site(request).policy.categories.values() if not c.technical),
        key=lambda pair: pair[1],
    )
    context = {
        "kinds": offered_kinds(request),
        "laws": _laws(request),
        "on_behalf": ON_BEHALF,
        "categories": categories,
        "values": values,
        "error_field": error[0] if error else None,
        "error": error[1] if error else None,
    }
    return page(request, "request_new.html", context, 422 if error else 200)


# Where a person lives decides which law's deadlines their request gets (the stricter of it and
# the declaration's own); the form offers the laws the organization says it follows.
_REGION_OF = {"in-dpdp": "India", "eu-gdpr": "the EU or the EEA", "us-ca-ccpa": "California"}


def _laws(request: Request) -> list[tuple[str, str]]:
    from troth.declaration.profiles import PROFILES

    claimed = site(request).policy.declaration.organization.jurisdictions
    return [(key, f"{_REGION_OF.get(key, key)} ({PROFILES[key].name})") for key in claimed]


@router.get("/new", name="center_request_new")
def new_request(request: Request) -> Response:
    s = site(request)
    if s.keyring is None:
        return unavailable(request)
    if session_subject(request, s.keyring, s.clock()) is None:
        return _redirect(request, "/manage")
    return _form(request, {"acting_as": "self"})


_FIELD_OF = {
    "kind": "kind",
    "acting_as": "acting_as",
    "email": "subject_email",
    "relationship": "relationship",
    "requester_email": "subject_email",
    "proposed": "value",
}


@router.post("/new")
async def file_request(request: Request) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    fields = await read_form(request)
    if not form_token_ok(request, keyring, fields.get("csrf"), s.clock()):
        return forbidden(request)
    signed_in = center_session(request, keyring, s.clock())
    if signed_in is None:
        return _redirect(request, "/manage")
    values = {k: fields.get(k, "").strip() for k in ON_FORM}
    kind, acting_as = values["kind"], values["acting_as"] or "self"
    if values["jurisdiction"] and values["jurisdiction"] not in dict(_laws(request)):
        return _form(request, values, ("jurisdiction", _EXPLAIN["jurisdiction"]))
    proposed = None
    if kind == "correction":
        if values["category"] not in s.policy.categories:
            return _form(request, values, ("category", "Choose the data to correct."))
        proposed = {values["category"]: values["value"]}
    now = s.clock()

    def file() -> RightsRequest:
        with write_scope(s.sessions) as session:
            own = _email_of(session, keyring, signed_in.subject_id)
            actor = Actor.subject(signed_in.subject_id)
            on_behalf = acting_as != "self"
            filed = create_request(
                session,
                s.policy,
                keyring,
                kind=kind,
                email=values["subject_email"] if on_behalf else own,
                now=now,
                actor=actor,
                acting_as=acting_as,
                requester_email=own if on_behalf else None,
                relationship=(values["relationship"] or None) if on_behalf else None,
                proposed=proposed,
                jurisdiction=values["jurisdiction"] or None,
            )
            return mark_verified(session, filed.id, method=signed_in.method, now=now, actor=actor)

    try:
        filed = await run_in_threadpool(file)
    except RequestInputError as exc:
        field = _FIELD_OF.get(exc.field.split(".")[0], exc.field)
        return _form(request, values, (field, _explain(field, exc.message)))
    except UnknownSubject:
        return _redirect(request, "/manage")
    context = {
        "filed": filed,
        "label": KIND_LABELS[filed.kind],
        "status_url": _status_url(request, keyring, filed, now),
        "own": filed.subject_id == signed_in.subject_id,
    }
    return page(request, "request_filed.html", context, 201, forms=False)


ON_FORM = (
    "kind",
    "acting_as",
    "jurisdiction",
    "subject_email",
    "relationship",
    "category",
    "value",
)
_EXPLAIN = {
    "kind": "Choose which request you are making.",
    "acting_as": "Choose on whose behalf you are asking.",
    "subject_email": "Enter the email address of the person you are asking for.",
    "relationship": "Say how you are related to the person you are asking for (up to 200 "
    "characters).",
    "value": "Enter the correct value.",
    "jurisdiction": "Choose where you live from the list, or leave it at 'Elsewhere'.",
}


def _explain(field: str, fallback: str) -> str:
    return _EXPLAIN.get(field, fallback[:1].upper() + fallback[1:] + ".")


def _status_url(request: Request, keyring: Keyring, filed: RightsRequest, now: datetime) -> str:
    return status_link(keyring, request.scope.get("root_path", ""), filed.id, now)


@dataclass(frozen=True)
class Shown:
    request: RightsRequest
    extension_reason: str | None
    download_url: str | None


def _not_found(request: Request) -> Response:
    return message(
        request,
        404,
        "No such request",
        "There is no request here for you. Sign in again, or "
        "use the link in the latest email about your request.",
    )


@router.get("/download", name="center_request_download")
async def download(request: Request) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    token = request.query_params.get("token", "")
    now = s.clock()
    try:
        request_id = str(verify_link(keyring, token, DOWNLOAD_PURPOSE, now)["request_id"])
    except ExpiredLink:
        return _gone(request)
    except LinkError:
        return message(
            request,
            400,
            "This download link does not work",
            "It is damaged or incomplete. Copy the whole link from the email.",
        )
    signed_in = center_session(request, keyring, now)
    if signed_in is None or now - signed_in.verified_at > REVERIFY_WITHIN:
        return message(
            request,
            403,
            "Prove your email address again",
            "Before your data is handed out we ask for a new code. Ask for one, enter it, then "
            "open the download link again within 15 minutes.",
            reverify=True,
        )

    def fetch() -> Download | None:
        with write_scope(s.sessions) as session:
            try:
                found = get_request(session, request_id)
            except UnknownRequest:
                return None
            if found.subject_id != signed_in.subject_id:
                return None
            return bundle_for_download(
                session, keyring, token, now=now, actor=Actor.subject(signed_in.subject_id)
            )

    try:
        bundle = await run_in_threadpool(fetch)
    except (BundleGone, ShreddedSubject):
        return _gone(request)
    if bundle is None:
        return _not_found(request)
    return Response(
        bundle.content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{bundle.filename}"',
            "Cache-Control": "no-store",
        },
    )


def _gone(request: Request) -> Response:
    return message(
        request,
        410,
        "This download has expired",
        "Exports and their links work for 14 days. Make a new request for your data.",
    )


@router.get("/{request_id}", name="center_request_status")
async def status(request: Request, request_id: str) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    now = s.clock()
    link = request.query_params.get("link")
    by_link = False
    if link is not None:
        try:
            by_link = linked_request(keyring, link, now) == request_id
        except ExpiredLink:
            return message(
                request,
                410,
                "This link has expired",
                "Sign in to the privacy center to see your requests.",
                start_again=True,
            )
        except LinkError:
            by_link = False
    subject_id = session_subject(request, keyring, now)

    def load() -> Shown | None:
        with s.sessions() as session:
            try:
                found = get_request(session, request_id[:36])
            except UnknownRequest:
                return None
            if not by_link and found.subject_id != subject_id:
                return None
            reason = None
            if found.extended:
                try:
                    reason = reasons_of(session, keyring, found).get("extended")
                except ShreddedSubject:
                    reason = None
            url = None
            expires = found.bundle_expires_at
            if found.bundle is not None and expires is not None and expires > now:
                # The download itself asks for a recently verified session.
                url = download_link(keyring, "", found.id, expires)
            session.expunge(found)
            return Shown(found, reason, url)

    shown = await run_in_threadpool(load)
    if shown is None:
        return _not_found(request)
    root = request.scope.get("root_path", "").rstrip("/")
    context = {
        "r": shown.request,
        "label": KIND_LABELS[shown.request.kind],
        "extension_reason": shown.extension_reason,
        "download_url": f"{root}{shown.download_url}" if shown.download_url else None,
        "kept": (shown.request.outcome or {}).get("kept", []),
        "signed_in": subject_id is not None,
    }
    return page(request, "request_status.html", context, forms=False)
