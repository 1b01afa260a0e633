"""What the children's data tests share: a child's submission, the parent's mail and its link,
and Kestrel variants (an age field, isolation instead of deletion, no children section)."""

from __future__ import annotations

import re
from typing import Any

from consent_api_support import ConsentApi
from httpx import Response
from notify_support import Received

from troth.declaration import Policy
from troth.subjects import Keyring
from troth.vault import StoredItem, items_of

CHILD_ID = "kestrel-app-user-4471"  # the child's account id in a client application
CHILD_NAME = "Aarav Iyer"
BORN = "2016-05-14"  # 10 years old on the test clock's day (3 November 2026)
ADULT_BORN = "1990-02-01"
PARENT = "meera.iyer@example.in"
SECRETS = (CHILD_ID, CHILD_NAME, PARENT)
LINK = re.compile(r"http://testserver(/children/consent/[A-Za-z0-9_.-]+)")


def child_form(**changes: Any) -> dict[str, Any]:
    """A sign-up in a client application: a name and a date of birth, for running the app."""
    body: dict[str, Any] = {
        "identity": {"kind": "external_id", "value": CHILD_ID},
        "fields": [
            {"category": "user.name", "value": CHILD_NAME},
            {"category": "user.demographic.date_of_birth", "value": BORN},
        ],
        "source": "client_apps",
        "purpose": "operate_client_apps",
        "collection_point": "client app sign-up",
        "parent_email": PARENT,
    }
    return body | changes


def submit_child(api: ConsentApi, **changes: Any) -> dict[str, Any]:
    response = api.post("/collect", "vault:write", child_form(**changes))
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def link_in(received: Received) -> str:
    """The path of the one consent link in a message (the same in its text and HTML parts)."""
    [path] = set(LINK.findall(received.text))
    assert received.html is not None and set(LINK.findall(received.html)) == {path}
    return path


def answer(api: ConsentApi, path: str, choice: str | None) -> Response:
    return api.client.post(path, data={"answer": choice} if choice else {})


def usable_items(api: ConsentApi, subject_id: str, **options: Any) -> list[StoredItem]:
    keyring: Keyring = api.app.state.site.keyring
    with api.app.state.site.sessions() as session:
        return items_of(session, keyring, subject_id, **options)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text and secret.lower() not in text.lower(), "a value came out"


def kestrel_variant(**children: Any) -> Policy:
    """Kestrel with an age-range field on the client app sign-up, and ``children`` changed
    (``children=None`` removes the section)."""
    from support import dump, kestrel_data, read

    data = kestrel_data()
    data["categories"].append(
        {"key": "user.demographic.age_range", "name": "Age", "identifier": "quasi"}
    )
    for part, key in (("sources", "client_apps"), ("purposes", "operate_client_apps")):
        row = next(item for item in data[part] if item["key"] == key)
        row["categories"].append("user.demographic.age_range")
    if children.pop("remove", False):
        del data["children"]
        for subject in data["subjects"]:
            subject.pop("child", None)
        data["purposes"] = [p for p in data["purposes"] if p["key"] != "child_accounts"]
        for rule in data["retention"]:
            purposes = rule["applies_to"].get("purposes")
            if purposes and "child_accounts" in purposes:
                purposes.remove("child_accounts")
    else:
        data["children"].update(children)
    policy, problems = read(dump(data))
    assert policy is not None, problems
    return policy
