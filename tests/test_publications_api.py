"""The publication routes' refusals: keys and scopes, bad input named by field, bad links."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from apikey_support import MovingClock, make_key
from consent_api_support import (
    API,
    EMAIL,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
)
from fastapi.testclient import TestClient
from publication_support import SENDER, draft, draft_body, keyring_of, listing, mail_server

from troth.declaration import Policy
from troth.notify import deliver_due, sign_link
from troth.publications import REVIEW_FOR, REVIEW_PURPOSE, WITHDRAW_PURPOSE
from troth.subjects import Keyring, MasterKey
from troth.web import create_app

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")

ROUTES = [
    ("POST", "/publications/drafts", "publications:write", draft_body()),
    (
        "PUT",
        f"/publications/drafts/{UNKNOWN_ID}",
        "publications:write",
        {"title": "t", "text": "x", "review_email": EMAIL},
    ),
    ("GET", "/publications", "publications:read", None),
    ("POST", f"/publications/{UNKNOWN_ID}/withdraw", "publications:write", None),
]


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_every_route_needs_a_key_with_its_scope(
    api: ConsentApi, method: str, path: str, scope: str, body: object
) -> None:
    others = [s for s in ("publications:read", "publications:write", "consent:write") if s != scope]
    api.key(*others)  # made before: making a key is audited
    with api.nothing_written():
        anonymous = api.client.request(method, API + path, json=body)
        assert_error(anonymous, 401, "An API key is required")
        wrong = api.call(method, path, tuple(others), body)
        assert_error(wrong, 403, f"lacks the scope '{scope}'")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "press_release"}, "kind"),
        ({"title": ""}, "title"),
        ({"text": "x" * 20_001}, "text"),
        ({"review_email": "not an address"}, "review_email"),
        ({"identity": {"kind": "email", "value": "nobody"}}, "identity.value"),
        ({"subject_id": UNKNOWN_ID, "identity": None}, "subject_id"),
        ({"identity": None}, "subject_id"),
        ({"subject_id": UNKNOWN_ID}, "subject_id"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_bad_drafts_are_422_naming_the_field_and_write_nothing(
    api: ConsentApi, changes: dict[str, object], field: str
) -> None:
    body = {k: v for k, v in draft_body(**changes).items() if v is not None}
    api.key("publications:write")
    with api.nothing_written():
        response = api.post("/publications/drafts", "publications:write", body)
        assert_invalid(response, field)


def test_a_draft_for_a_known_subject_by_id(api: ConsentApi) -> None:
    subject = api.subject()
    item = draft(api, identity=None, subject_id=subject)
    assert item["subject_id"] == subject
    assert api.subject() == subject  # found, not created again


def test_unknown_publications_are_404(api: ConsentApi) -> None:
    api.key("publications:write")
    with api.nothing_written():
        withdraw = api.post(f"/publications/{UNKNOWN_ID}/withdraw", "publications:write", None)
        assert_error(withdraw, 404, "no such publication")
        change = api.call(
            "PUT",
            f"/publications/drafts/{UNKNOWN_ID}",
            ("publications:write",),
            {"title": "t", "text": "x", "review_email": EMAIL},
        )
        assert_error(change, 404, "no such publication")
        malformed = api.post("/publications/not-a-uuid/withdraw", "publications:write", None)
        assert_invalid(malformed, "publication_id", where="path")


def review_path(api: ConsentApi, publication_id: str, revision: int = 1, **options: object) -> str:
    purpose = str(options.get("purpose", REVIEW_PURPOSE))
    expires = api.clock() + REVIEW_FOR
    payload = {"publication": publication_id, "revision": revision}
    return f"/publications/review/{sign_link(keyring_of(api), purpose, payload, expires)}"


def test_bad_links_are_refused_with_their_own_status_and_write_nothing(api: ConsentApi) -> None:
    item = draft(api)
    good = review_path(api, item["id"])
    with api.nothing_written():
        tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
        for path, status, words in [
            (tampered, 400, "does not work"),
            ("/publications/review/nonsense", 400, "does not work"),
            (review_path(api, item["id"], purpose=WITHDRAW_PURPOSE), 400, "does not work"),
            (review_path(api, str(uuid.uuid4())), 404, "nothing at this link"),
            (review_path(api, item["id"], revision=7), 410, "changed"),
        ]:
            for response in (
                api.client.get(path),
                api.client.post(path, data={"decision": "approve"}),
            ):
                assert response.status_code == status, (path, response.text)
                assert words in response.text
                assert response.headers["content-type"].startswith("text/html")
        withdraw = f"/publications/withdraw/{good.rsplit('/', 1)[1]}"
        assert api.client.post(withdraw).status_code == 400  # a review link cannot withdraw
    api.clock.advance(REVIEW_FOR.total_seconds())
    with api.nothing_written():
        expired = api.client.post(good, data={"decision": "approve"})
        assert expired.status_code == 410 and "expired" in expired.text
    assert listing(api) == []


def test_a_withdraw_link_expires_too(api: ConsentApi) -> None:
    item = draft(api)
    token = sign_link(
        keyring_of(api),
        WITHDRAW_PURPOSE,
        {"publication": item["id"]},
        api.clock() + timedelta(days=1),
    )
    api.clock.advance(timedelta(days=1).total_seconds())
    with api.nothing_written():
        assert api.client.post(f"/publications/withdraw/{token}").status_code == 410


def test_links_in_emails_point_at_the_public_url(
    kestrel_policy: Policy, tmp_path: Path, clock: MovingClock
) -> None:
    db = f"sqlite:///{tmp_path / 'troth.db'}"
    keyring = Keyring(MasterKey.generate())
    app = create_app(
        kestrel_policy,
        db,
        clock=clock,
        keyring=keyring,
        public_url="https://privacy.kestrel.example/",
    )
    with TestClient(app) as client, mail_server() as mail:
        _, key = make_key(app.state.site.engine, ["publications:write"])
        response = client.post(
            f"{API}/publications/drafts",
            json=draft_body(),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 201, response.text
        deliver_due(
            app.state.site.sessions, mail.transport, clock(), keyring=keyring, sender=SENDER
        )
        [review] = mail.inbox.received
    assert "https://privacy.kestrel.example/publications/review/" in review.text
    assert "testserver" not in review.text
