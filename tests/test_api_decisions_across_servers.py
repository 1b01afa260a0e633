"""Decisions across servers on one database: a server started on a materially changed policy asks
for consent again, and a write through one server reaches another's decisions."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from apikey_support import MovingClock
from consent_api_support import ON_EACH_DATABASE, serve

from troth.declaration import Policy

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


@ON_EACH_DATABASE
def test_serving_a_materially_changed_policy_asks_for_consent_again(
    database: str, clock: MovingClock, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    previous = kestrel_history[-1]
    with serve(previous, database, clock) as old:
        subject = old.subject()
        [record] = old.record(subject, "newsletter")
        assert old.reason(subject, "newsletter") == "consent"
    clock.advance(timedelta(days=30).total_seconds())
    # Serving the new version records it, compares it with 2.0, and requires renewal.
    with serve(kestrel_policy, database, clock) as new:
        assert new.reason(subject, "newsletter") == "renewal_required"
        assert new.reason(subject, "billing") == "legal_basis"
        # The receipt still shows the notice the consent was given under.
        response = new.get(f"/consents/{record}", "consent:read", format="iso27560")
        assert response.status_code == 200, response.text
        receipt = response.json()
        assert receipt["notice"]["version"] == previous.version == "2.0"
        assert receipt["notice"]["content_hash"] == f"sha256:{previous.content_hash}"
        assert receipt["purposes"][0]["purpose"] == previous.purposes["newsletter"].name
        new.record(subject, "newsletter")
        assert new.reason(subject, "newsletter") == "consent"
        assert [e["policy_version"] for e in new.consents(subject)["history"]] == ["2.0", "3.0"]


@ON_EACH_DATABASE
def test_a_write_through_one_server_reaches_another_s_decisions(
    database: str, clock: MovingClock, kestrel_policy: Policy
) -> None:
    with (
        serve(kestrel_policy, database, clock) as one,
        serve(kestrel_policy, database, clock) as two,
    ):
        subject = one.subject()
        assert two.reason(subject, "newsletter") == "no_consent"  # cached by the second
        one.record(subject, "newsletter")
        # The second server follows the change feed (every 250 ms).
        deadline = time.monotonic() + 5
        while two.reason(subject, "newsletter") != "consent":
            assert time.monotonic() < deadline, "the second server still answers from before"
            time.sleep(0.05)
