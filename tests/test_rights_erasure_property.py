"""A property of erasure (DESIGN.md, Tests): whatever a subject submitted, erasing them leaves
exactly the items a legal rule holds, and changes nothing of anyone else's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from consent_support import NOW, new_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rights_support import approved_request, run_jobs
from sqlalchemy import Engine
from vault_support import submit

from troth.declaration import Policy
from troth.rights import get_request
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring, MasterKey
from troth.vault import items_of

# What a subject can have handed over: (source, purpose, fields).
SUBMISSIONS = {
    "contact": ("contact_form", "answer_inquiries", None),
    "invoice": (
        "client_signup",
        "billing",
        [
            {"category": "user.name", "value": "R. Iyer"},
            {"category": "user.financial", "value": "INV-7"},
        ],
    ),
    "project": (
        "client_signup",
        "deliver_projects",
        [{"category": "user.job_title", "value": "CTO"}],
    ),
}
# Held: billing (legal obligation, 7 years) and project data (contract, waiting for completion).
HELD = {"invoice", "project"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Keyring]]:
    """One database for every example; each example has subjects of its own."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('erasure') / 'troth.db'}")
    upgrade(engine)
    yield engine, Keyring(MasterKey.generate())
    engine.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mine=st.lists(st.sampled_from(sorted(SUBMISSIONS)), min_size=1, max_size=4),
    theirs=st.lists(st.sampled_from(sorted(SUBMISSIONS)), min_size=1, max_size=3),
)
def test_erasure_leaves_only_what_is_held_and_touches_nothing_else(
    shared: tuple[Engine, Keyring], kestrel_policy: Policy, mine: list[str], theirs: list[str]
) -> None:
    engine, keyring = shared
    sessions = make_sessionmaker(engine)
    me, other = new_email(), new_email()
    with sessions.begin() as session:
        for owner, kinds in ((me, mine), (other, theirs)):
            for kind in kinds:
                source, purpose, fields = SUBMISSIONS[kind]
                last = submit(
                    session,
                    kestrel_policy,
                    keyring,
                    fields,
                    identity=("email", owner),
                    source=source,
                    purpose=purpose,
                )
                if owner == me:
                    my_id = last.subject_id
                else:
                    other_id = last.subject_id
    with sessions() as session:
        before_mine = items_of(session, keyring, my_id)
        before_theirs = items_of(session, keyring, other_id)
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure", email=me)
    later = NOW + timedelta(seconds=1)
    run_jobs(sessions, kestrel_policy, keyring, later)
    with sessions() as session:
        assert get_request(session, request_id).state == "completed"
        assert items_of(session, keyring, other_id) == before_theirs
        held = [i for i in before_mine if i.purpose in ("billing", "deliver_projects")]
        if held:
            assert items_of(session, keyring, my_id) == held
            kept = get_request(session, request_id).outcome["kept"]
            assert sorted(k["item_id"] for k in kept) == sorted(i.id for i in held)
        else:
            assert get_request(session, request_id).outcome["key_destroyed"] is True
    assert bool(held) == bool(HELD & set(mine))
