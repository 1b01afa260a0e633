"""P9: a publication is published only after the person approved it, and withdrawn on request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from consent_api_support import EMAIL, ON_EACH_DATABASE, ConsentApi, audit_actions
from fastapi.testclient import TestClient
from publication_support import TEXT, TITLE, Mail, decide, draft, link_in, listing, mail_server

from troth.subjects.models import Subject

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


@pytest.fixture
def mail() -> Iterator[Mail]:
    with mail_server() as server:
        yield server


@ON_EACH_DATABASE
def test_draft_review_approve_publish_and_withdraw_by_link(api: ConsentApi, mail: Mail) -> None:
    item = draft(api)
    assert (item["kind"], item["status"], item["revision"]) == ("testimonial", "draft", 1)
    assert listing(api) == []  # nothing is published before the person approves

    [review] = mail.deliver(api)
    assert review.recipients == [EMAIL]
    assert review.message["Subject"] == (
        "Please review your testimonial before Kestrel Software publishes it"
    )
    assert TITLE in review.text
    review_path = link_in(review)
    assert review_path.startswith("/publications/review/")

    page = api.client.get(review_path)
    assert page.status_code == 200
    assert "Review your testimonial" in page.text
    assert TITLE in page.text and "I run a bakery in Pune." in page.text
    assert 'value="approve"' in page.text and 'value="reject"' in page.text
    assert '<meta name="viewport"' in page.text

    done = decide(api, review_path, "approve")
    assert done.status_code == 200
    assert "Thank you: approved" in done.text
    [published] = listing(api)
    assert published == {
        "id": item["id"],
        "kind": "testimonial",
        "title": TITLE,
        "text": TEXT,
        "approved_at": api.clock().isoformat(),
    }

    # Approving again (a form sent twice) changes nothing and sends nothing.
    assert decide(api, review_path, "approve").status_code == 200
    [confirmation] = mail.deliver(api)
    assert confirmation.recipients == [EMAIL]
    assert confirmation.message["Subject"].startswith("You approved your testimonial")
    withdraw_path = link_in(confirmation)
    assert withdraw_path.startswith("/publications/withdraw/")
    assert mail.deliver(api) == []

    page = api.client.get(withdraw_path)
    assert page.status_code == 200 and "Withdraw it" in page.text and TITLE in page.text
    gone = api.client.post(withdraw_path)
    assert gone.status_code == 200 and "Withdrawn" in gone.text
    assert listing(api) == []
    assert api.client.post(withdraw_path).status_code == 200  # idempotent
    assert "already withdrawn" in api.client.get(withdraw_path).text

    actions = [a for a in audit_actions(api) if a.startswith("publication.")]
    assert actions == ["publication.drafted", "publication.approved", "publication.withdrawn"]
    decisions = [e for e in api.audit() if e["action"] in ("publication.approved",
                                                            "publication.withdrawn")]  # fmt: skip
    assert {(e["actor_kind"], e["actor_id"]) for e in decisions} == {
        ("subject", item["subject_id"])
    }


def test_reject_is_recorded_idempotent_and_final(api: ConsentApi, mail: Mail) -> None:
    draft(api)
    review_path = link_in(mail.deliver(api)[0])
    refused = decide(api, review_path, "reject")
    assert refused.status_code == 200 and "will not be published" in refused.text
    assert decide(api, review_path, "reject").status_code == 200
    assert listing(api) == []
    late = decide(api, review_path, "approve")
    assert late.status_code == 409 and "already rejected" in late.text
    assert listing(api) == []
    assert "You rejected this testimonial" in api.client.get(review_path).text
    assert audit_actions(api).count("publication.rejected") == 1
    assert mail.deliver(api) == []  # no confirmation for a rejection


def test_an_approved_draft_cannot_be_rejected_only_withdrawn(api: ConsentApi, mail: Mail) -> None:
    draft(api)
    review_path = link_in(mail.deliver(api)[0])
    assert decide(api, review_path, "approve").status_code == 200
    late = decide(api, review_path, "reject")
    assert late.status_code == 409 and "withdraw link" in late.text
    assert len(listing(api)) == 1


def test_a_form_without_a_decision_changes_nothing(api: ConsentApi, mail: Mail) -> None:
    draft(api)
    review_path = link_in(mail.deliver(api)[0])
    with api.nothing_written():
        assert decide(api, review_path).status_code == 400
        assert decide(api, review_path, "publish").status_code == 400


def test_a_changed_draft_needs_its_own_review(api: ConsentApi, mail: Mail) -> None:
    item = draft(api)
    first = link_in(mail.deliver(api)[0])
    assert decide(api, first, "approve").status_code == 200
    assert len(listing(api)) == 1
    changed = api.call(
        "PUT",
        f"/publications/drafts/{item['id']}",
        ("publications:write",),
        {"title": "Fixed in an hour", "text": "New words.", "review_email": EMAIL},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], changed.json()["revision"]) == ("draft", 2)
    assert listing(api) == []  # unpublished until the new words are approved
    links = sorted(link_in(message) for message in mail.deliver(api))
    # The first approval's confirmation, and the review of the new draft.
    [second, withdraw_path] = links
    assert second.startswith("/publications/review/") and second != first
    assert withdraw_path.startswith("/publications/withdraw/")
    stale = decide(api, first, "approve")
    assert stale.status_code == 410 and "changed" in stale.text
    assert api.client.get(first).status_code == 410
    assert decide(api, second, "approve").status_code == 200
    [published] = listing(api)
    assert (published["title"], published["text"]) == ("Fixed in an hour", "New words.")


def test_staff_withdraw_on_request_and_the_listing_drops_it_at_once(
    api: ConsentApi, mail: Mail
) -> None:
    item = draft(api)
    review_path = link_in(mail.deliver(api)[0])
    decide(api, review_path, "approve")
    assert [p["id"] for p in listing(api)] == [item["id"]]
    key_id, _ = api.key("publications:write")
    response = api.post(f"/publications/{item['id']}/withdraw", "publications:write", None)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["changed"], body["withdrawn_at"]) == (
        "withdrawn",
        True,
        api.clock().isoformat(),
    )
    assert listing(api) == []
    again = api.post(f"/publications/{item['id']}/withdraw", "publications:write", None)
    assert (again.status_code, again.json()["changed"]) == (200, False)
    [event] = [e for e in api.audit() if e["action"] == "publication.withdrawn"]
    assert (event["actor_kind"], event["actor_id"]) == ("api_key", key_id)
    # The person's old review link cannot bring it back.
    late = decide(api, review_path, "approve")
    assert late.status_code == 409 and "withdrawn" in late.text
    assert listing(api) == []


def test_a_draft_withdrawn_before_review_can_never_be_approved(api: ConsentApi, mail: Mail) -> None:
    item = draft(api)
    review_path = link_in(mail.deliver(api)[0])
    api.post(f"/publications/{item['id']}/withdraw", "publications:write", None)
    refused = decide(api, review_path, "approve")
    assert refused.status_code == 409 and "withdrawn" in refused.text
    assert listing(api) == []
    changed = api.call(
        "PUT",
        f"/publications/drafts/{item['id']}",
        ("publications:write",),
        {"title": "t", "text": "x", "review_email": EMAIL},
    )
    assert changed.status_code == 409


def test_the_words_are_stored_encrypted_and_erasing_the_person_unpublishes(
    api: ConsentApi, mail: Mail
) -> None:
    item = draft(api)
    decide(api, link_in(mail.deliver(api)[0]), "approve")
    assert len(listing(api)) == 1
    stored = api.snapshot()
    assert TITLE not in stored and "bakery" not in stored
    with api.app.state.site.sessions.begin() as session:
        session.get(Subject, item["subject_id"]).wrapped_key = None  # crypto-shredded
    assert listing(api) == []


@ON_EACH_DATABASE
def test_two_approvals_at_once_publish_once_and_confirm_once(api: ConsentApi, mail: Mail) -> None:
    draft(api)
    review_path = link_in(mail.deliver(api)[0])
    start = threading.Barrier(4)

    def approve() -> int:
        client = TestClient(api.app)  # on the running app, not started again
        start.wait()
        return client.post(review_path, data={"decision": "approve"}).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: approve(), range(4)))
    assert statuses == [200, 200, 200, 200]
    assert audit_actions(api).count("publication.approved") == 1
    assert len(mail.deliver(api)) == 1  # one confirmation
    assert len(listing(api)) == 1
