"""Rights requests from the privacy center (P10–P15): filed from a verified session, followed on
a status page only the subject (or the emailed signed link) can see, and the export handed out
only after the address is proved again."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from center_support import browser, csrf_of, sign_in
from consent_api_support import EMAIL, ON_EACH_DATABASE, OTHER_EMAIL, ConsentApi
from consent_support import STAFF
from fastapi.testclient import TestClient
from httpx import Response
from rights_support import outbox as rights_outbox

from troth.audit import Actor
from troth.rights import (
    approve,
    create_request,
    extend,
    get_request,
    start_review,
    timeline,
    worker_pass,
)
from troth.rights.bundle import item_json
from troth.store import write_scope
from troth.subjects.registry import find_subject
from troth.vault import collect, items_of
from troth.web.center.requests import REVERIFY_WITHIN
from troth.web.site import long_date

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")
NAME = "Ada Lovelace"
CONTACT = [
    {"category": "user.name", "value": NAME},
    {"category": "user.contact.phone_number", "value": "+44 20 7946 0018"},
]
INVOICE = [{"category": "user.financial", "value": "Invoice KS-2026-007, INR 1,20,000"}]
REFERENCE = re.compile(r'id="reference">([0-9a-f-]{36})<')
STATUS_LINK = re.compile(r'href="(/center/requests/[0-9a-f-]{36}\?link=[^"]+)"')
DOWNLOAD = re.compile(r'href="(/center/requests/download\?token=[^"]+)"')


def _collect(api: ConsentApi, fields: list[dict[str, str]], source: str, purpose: str) -> str:
    s = api.app.state.site
    with write_scope(s.sessions) as session:
        return collect(
            session,
            s.policy,
            s.keyring,
            identity=("email", EMAIL),
            fields=fields,
            source=source,
            purpose=purpose,
            collection_point=None,
            now=api.clock(),
            actor=Actor.system("test"),
        ).subject_id


def _signed_in(api: ConsentApi, email: str = EMAIL) -> TestClient:
    client = browser(api)
    assert sign_in(api, client, email).status_code == 303
    return client


def _file(client: TestClient, **fields: str) -> Response:
    form = client.get("/center/requests/new")
    assert form.status_code == 200, form.text
    return client.post("/center/requests/new", data={"csrf": csrf_of(form)} | fields)


def _filed(client: TestClient, kind: str) -> tuple[str, str]:
    """File a request for oneself: its id and the signed status link on the confirmation."""
    done = _file(client, kind=kind, acting_as="self")
    assert done.status_code == 201, done.text
    [request_id] = REFERENCE.findall(done.text)
    [link] = STATUS_LINK.findall(done.text)
    assert "We will complete it by" in done.text
    return request_id, link.replace("&amp;", "&")


def _approve_and_run(api: ConsentApi, request_id: str) -> None:
    """Staff approve through the service functions; one worker pass carries the request out."""
    s = api.app.state.site
    with write_scope(s.sessions) as session:
        start_review(session, request_id, now=api.clock(), actor=STAFF)
        approve(session, request_id, now=api.clock(), actor=STAFF)
    report = worker_pass(s.sessions, s.policy, s.keyring, api.clock(), base_url="https://t.example")
    assert report.jobs_done == 1 and report.jobs_failed == 0


@ON_EACH_DATABASE
def test_an_access_request_from_filing_to_the_downloaded_export(api: ConsentApi) -> None:
    subject_id = _collect(api, CONTACT, "contact_form", "answer_inquiries")
    s = api.app.state.site
    with s.sessions() as session:
        expected = [item_json(item) for item in items_of(session, s.keyring, subject_id)]
    assert len(expected) == 2
    client = _signed_in(api)
    request_id, _link = _filed(client, "access")
    with s.sessions() as session:
        filed = get_request(session, request_id)
        assert (filed.subject_id, filed.state) == (subject_id, "verified")
        assert filed.verification_method == "email_code"
    status = client.get(f"/center/requests/{request_id}")
    assert status.status_code == 200
    assert "Verified, waiting for the privacy team" in status.text
    assert "Download my data" not in status.text

    _approve_and_run(api, request_id)
    status = client.get(f"/center/requests/{request_id}")
    assert "Completed" in status.text and "Download my data" in status.text
    [download] = DOWNLOAD.findall(status.text)
    download = download.replace("&amp;", "&")
    with s.sessions() as session:
        [(to, text)] = rights_outbox(session, s.keyring, "rights_completed")
    assert to == EMAIL
    emailed = next(w for w in text.split() if "/download?token=" in w)
    assert urlparse(emailed).path == "/center/requests/download"
    assert f"/center/requests/{request_id}?link=" in text

    # Signed in more than 15 minutes ago: prove the address again first.
    api.clock.advance(REVERIFY_WITHIN.total_seconds() + 1)
    stale = client.get(download)
    assert stale.status_code == 403 and "Prove your email address again" in stale.text
    assert 'href="/center/manage?again=1"' in stale.text
    assert sign_in(api, client, EMAIL, again=True).status_code == 303
    got = client.get(download)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/zip"
    assert got.headers["content-disposition"] == f'attachment; filename="access-{request_id}.zip"'
    data = json.loads(zipfile.ZipFile(io.BytesIO(got.content)).read("data.json"))
    assert data["subject_id"] == subject_id
    assert data["items"] == expected
    # The emailed link is the same route and works the same way.
    token = parse_qs(urlparse(emailed).query)["token"][0]
    again = client.get("/center/requests/download", params={"token": token})
    assert again.status_code == 200 and again.content == got.content
    with s.sessions() as session:
        actions = [e.action for e in timeline(session, request_id)]
    assert actions.count("bundle_downloaded") == 2


def test_an_erasure_request_shows_what_was_kept_and_why(api: ConsentApi) -> None:
    _collect(api, CONTACT, "contact_form", "answer_inquiries")
    _collect(api, INVOICE, "client_signup", "billing")
    client = _signed_in(api)
    request_id, link = _filed(client, "erasure")
    assert "Verified" in client.get(f"/center/requests/{request_id}").text
    _approve_and_run(api, request_id)
    # The subject's identities are gone with the erasure; the emailed link still shows the result.
    status = browser(api).get(link)
    assert status.status_code == 200
    assert "Completed" in status.text
    kept = status.text.split('id="kept"', 1)[1].split("</ul>", 1)[0]
    assert "user.financial" in kept
    assert "Income-tax and GST law require invoices to be kept" in kept
    assert "user.name" not in kept and NAME not in status.text
    s = api.app.state.site
    with s.sessions() as session:
        assert find_subject(session, s.keyring, "email", EMAIL) is None


def test_another_subjects_request_is_not_found(api: ConsentApi) -> None:
    _collect(api, CONTACT, "contact_form", "answer_inquiries")
    owner = _signed_in(api)
    request_id, _ = _filed(owner, "access")
    _approve_and_run(api, request_id)
    [download] = DOWNLOAD.findall(owner.get(f"/center/requests/{request_id}").text)
    other = _signed_in(api, OTHER_EMAIL)
    seen = other.get(f"/center/requests/{request_id}")
    assert seen.status_code == 404 and "No such request" in seen.text
    assert other.get(download.replace("&amp;", "&")).status_code == 404
    assert browser(api).get(f"/center/requests/{request_id}").status_code == 404
    assert other.get("/center/requests/00000000-0000-4000-8000-000000000000").status_code == 404


def test_status_links_that_are_tampered_expired_or_for_another_request(api: ConsentApi) -> None:
    client = _signed_in(api)
    first, link = _filed(client, "access")
    second, _ = _filed(client, "objection")
    stranger = browser(api)
    assert stranger.get(link).status_code == 200
    token = parse_qs(urlparse(link).query)["link"][0]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert stranger.get(f"/center/requests/{first}", params={"link": tampered}).status_code == 404
    assert stranger.get(f"/center/requests/{second}", params={"link": token}).status_code == 404
    api.clock.advance(timedelta(days=91).total_seconds())
    gone = stranger.get(link)
    assert gone.status_code == 410 and "This link has expired" in gone.text


def test_filing_needs_a_session_and_the_forms_token(api: ConsentApi) -> None:
    anonymous = browser(api)
    assert anonymous.get("/center/requests/new").status_code == 303
    client = _signed_in(api)
    client.get("/center/requests/new")
    refused = client.post("/center/requests/new", data={"kind": "access", "acting_as": "self"})
    assert refused.status_code == 403 and "This form has expired" in refused.text
    assert not [e for e in api.audit() if e["action"] == "rights.request_received"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"acting_as": "self"}, "Choose which request you are making."),
        ({"kind": "teleport", "acting_as": "self"}, "Choose which request you are making."),
        ({"kind": "access", "acting_as": "cousin"}, "Choose on whose behalf you are asking."),
        ({"kind": "correction", "acting_as": "self", "value": "x"}, "Choose the data to correct."),
        (
            {"kind": "correction", "acting_as": "self", "category": "user.name", "value": " "},
            "Enter the correct value.",
        ),
        (
            {"kind": "access", "acting_as": "parent", "subject_email": "kid@example.com"},
            "Say how you are related",
        ),
        (
            {
                "kind": "access",
                "acting_as": "nominee",
                "relationship": "nominee",
                "subject_email": "x",
            },
            "Enter the email address of the person",
        ),
        (
            {"kind": "access", "acting_as": "self", "jurisdiction": "br-lgpd"},
            "Choose where you live from the list",
        ),
    ],
)
def test_bad_input_names_the_field(api: ConsentApi, fields: dict[str, str], named: str) -> None:
    client = _signed_in(api)
    answer = _file(client, **fields)
    assert answer.status_code == 422
    assert named in answer.text and 'role="alert"' in answer.text
    assert not [e for e in api.audit() if e["action"] == "rights.request_received"]


def test_a_parent_files_for_a_child_and_follows_it_by_the_link(api: ConsentApi) -> None:
    client = _signed_in(api)
    done = _file(
        client,
        kind="access",
        acting_as="parent",
        subject_email=OTHER_EMAIL,
        relationship="mother",
    )
    assert done.status_code == 201, done.text
    [request_id] = REFERENCE.findall(done.text)
    [link] = STATUS_LINK.findall(done.text)
    s = api.app.state.site
    with s.sessions() as session:
        filed = get_request(session, request_id)
        assert (filed.acting_as, filed.state) == ("parent", "verified")
        child = find_subject(session, s.keyring, "email", OTHER_EMAIL)
        assert child is not None and filed.subject_id == child.id
        [(to, _)] = rights_outbox(session, s.keyring, "rights_received")
    assert to == EMAIL
    # The parent's own session is not the child's: the request shows through the link only.
    assert client.get(f"/center/requests/{request_id}").status_code == 404
    assert client.get(link.replace("&amp;", "&")).status_code == 200


def test_a_correction_carries_its_proposed_value(api: ConsentApi) -> None:
    _collect(api, CONTACT, "contact_form", "answer_inquiries")
    client = _signed_in(api)
    done = _file(
        client, kind="correction", acting_as="self", category="user.name", value="Ada King"
    )
    assert done.status_code == 201, done.text
    assert "Ada King" not in done.text


def test_the_status_page_shows_an_extension_and_its_reason(api: ConsentApi) -> None:
    client = _signed_in(api)
    s = api.app.state.site
    reason = "Your data spans three systems we must search by hand"
    # The form claims no law and Kestrel declares no extension: file under the GDPR directly.
    with write_scope(s.sessions) as session:
        request_id = create_request(
            session,
            s.policy,
            s.keyring,
            kind="access",
            email=EMAIL,
            jurisdiction="eu-gdpr",
            now=api.clock(),
            actor=STAFF,
        ).id
        extended = extend(
            session, s.policy, s.keyring, request_id, reason=reason, now=api.clock(), actor=STAFF
        )
        complete_by, original = extended.complete_by, extended.original_complete_by
    assert complete_by > original
    status = client.get(f"/center/requests/{request_id}")
    assert status.status_code == 200
    assert f"Extended from {long_date(original)}: {reason}" in status.text
    assert long_date(complete_by) in status.text.split('id="complete-by">', 1)[1][:80]


def test_where_the_person_lives_decides_the_law_whose_deadlines_apply(api: ConsentApi) -> None:
    client = _signed_in(api)
    form = client.get("/center/requests/new")
    # Kestrel follows India's DPDP Act, the GDPR and the CCPA: the form offers exactly those.
    assert 'name="jurisdiction"' in form.text
    for key in ("in-dpdp", "eu-gdpr", "us-ca-ccpa"):
        assert f'value="{key}"' in form.text
    done = _file(client, kind="access", acting_as="self", jurisdiction="us-ca-ccpa")
    assert done.status_code == 201, done.text
    [request_id] = REFERENCE.findall(done.text)
    with api.app.state.site.sessions() as session:
        filed = get_request(session, request_id)
    assert filed.jurisdiction == "us-ca-ccpa"
    elsewhere = _file(client, kind="access", acting_as="self")
    assert elsewhere.status_code == 201
    [other_id] = REFERENCE.findall(elsewhere.text)
    with api.app.state.site.sessions() as session:
        assert get_request(session, other_id).jurisdiction is None
