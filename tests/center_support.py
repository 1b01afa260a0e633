"""What the privacy center tests share: a browser's visit (its own cookies), the CSRF token of a
page, and signing in with the code from the outbox."""

from __future__ import annotations

import re
from typing import Any

from consent_api_support import ConsentApi
from fastapi.testclient import TestClient
from httpx import Response
from verification_support import emails

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
VERIFICATION = re.compile(r'name="verification" value="([^"]+)"')


def csrf_of(page: Response) -> str:
    found = CSRF.findall(page.text)
    assert found, f"no CSRF token on the page ({page.status_code})"
    token: str = found[0]
    return token


def browser(api: ConsentApi) -> TestClient:
    """Another browser on the same app: its own cookies, no redirects followed by itself."""
    return TestClient(api.app, follow_redirects=False)


def ask_for_code(client: TestClient, email: str, *, again: bool = False) -> Response:
    """``again``: a fresh code while signed in, as a download asks for."""
    form = client.get("/center/manage?again=1" if again else "/center/manage")
    assert form.status_code == 200, form.text
    return client.post("/center/manage", data={"email": email, "csrf": csrf_of(form)})


def outbox(api: ConsentApi) -> list[tuple[str, str, str]]:
    """Every verification email sent so far: (recipient, code, link token)."""
    with api.app.state.site.sessions() as session:
        return emails(session, api.app.state.site.keyring)


def sign_in(api: ConsentApi, client: TestClient, email: str, *, again: bool = False) -> Response:
    """Ask for a code, read it from the email, type it: the answer to the code form."""
    page = ask_for_code(client, email, again=again)
    assert page.status_code == 200, page.text
    to, code, _ = outbox(api)[-1]
    assert to == email
    [verification] = VERIFICATION.findall(page.text)
    return client.post(
        "/center/code",
        data={"verification": verification, "code": code, "csrf": csrf_of(page)},
    )


def choose(client: TestClient, purpose: str, action: str, **extra: Any) -> Response:
    page = client.get("/center/choices")
    assert page.status_code == 200, page.text
    data = {"purpose": purpose, "action": action, "csrf": csrf_of(page)} | extra
    return client.post("/center/choices", data=data)
