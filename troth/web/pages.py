"""The published privacy policy: the current text, its Markdown, and every earlier version."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.responses import Response

from troth.publishing import list_versions, locate_version
from troth.store import ping

from .site import get_session, render, site

router = APIRouter()
log = logging.getLogger(__name__)


@router.get("/", include_in_schema=False)
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(request.scope.get("root_path", "").rstrip("/") + "/privacy")


@router.get("/privacy", name="policy")
def policy_page(request: Request) -> Response:
    s = site(request)
    return render(request, "policy.html", {"policy": s.policy, "policy_html": s.policy_html})


@router.get("/privacy.md", name="policy_markdown")
def policy_markdown(request: Request) -> Response:
    return PlainTextResponse(site(request).policy_markdown, media_type="text/markdown")


@router.get("/privacy/versions", name="versions")
def versions_page(request: Request, session: Session = Depends(get_session)) -> Response:
    versions = list_versions(session)
    served = site(request).policy.content_hash
    return render(request, "versions.html", {"versions": versions, "served_hash": served})


@router.get("/privacy/versions/{version:path}", name="version")
def version_page(
    request: Request, version: str, session: Session = Depends(get_session)
) -> Response:
    found = locate_version(session, version)
    if found is None:
        return render(request, "version_not_found.html", {"version": version}, status_code=404)
    return render(request, "version.html", {"entry": found})


@router.get("/healthz", name="health")
def health(request: Request, session: Session = Depends(get_session)) -> JSONResponse:
    policy = site(request).policy
    body = {
        "status": "ok",
        "policy_version": policy.version,
        "content_hash": policy.content_hash,
        "database": "ok",
    }
    try:
        ping(session)
    except SQLAlchemyError as exc:
        log.warning("health check: the database query failed (%s)", type(exc).__name__)
        body |= {"status": "error", "database": "error"}
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
