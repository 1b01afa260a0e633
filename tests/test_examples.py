"""The example declarations: each loads, each seed example keeps the promises its seed makes,
and the rendered policy of every example shows those promises.

Seed examples are the four real policies in /work/shared/seeds/ written as declarations
(docs/examples.md maps each promise to the part that carries it). New examples under examples/
are picked up by the globs below.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from examples_support import CURRENT, DECLARATIONS, EXAMPLES, SEED_FILES, SEEDS, name, policy
from seed_promises import PROMISES, Promise

from troth.declaration import read_declaration

# -- (a) every example loads ---------------------------------------------------------------


def test_the_globs_find_every_seed_example_and_kestrel() -> None:
    assert set(SEEDS.values()) <= set(CURRENT)
    assert EXAMPLES / "kestrel" / "privacy.yaml" in CURRENT


@pytest.mark.parametrize("path", DECLARATIONS, ids=name)
def test_example_loads_without_errors(path: Path) -> None:
    loaded, problems = read_declaration(path.read_text(encoding="utf-8"), name(path))
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert loaded is not None
    assert loaded.organization_name


# Each seed example keeps only the warnings that reflect a real weakness of its seed (the header
# comment of the file lists them). A new warning means the example or the checker changed:
# decide whether it is another weakness of the seed, or something to fix in the example.
WEAKNESSES = {
    "000": (
        "no privacy_officer or grievance_officer",
        "governing_law is not stated",
        "expects a named grievance officer",
        "'Independent vendors who work on part of your project' has no contract_date",
        "'Google Analytics (Google LLC)' has no contract_date",
        "declare prior_notice",
        "the right 'access'",
        "the right 'correction'",
        "the right 'grievance'",
        "the right 'nominate'",
    ),
    "001": (
        "a breach must be reported",
        "no privacy_officer or grievance_officer",
        "governing_law is not stated",
        "expects a named grievance officer",
        "purpose 'usage_analysis' rests on legitimate interest; people may object",
        "purpose 'usage_analysis': the DPDP Act has no 'legitimate interest' basis",
        "purpose 'company_news': the DPDP Act has no 'legitimate interest' basis",
        "the right 'access'",
        "the right 'correction'",
        "the right 'erasure'",
        "the right 'grievance'",
        "the right 'nominate'",
    ),
    "002": (
        "a breach must be reported",
        "governing_law is not stated",
        "expects a named grievance officer",
        "'Developers and contractors working for Ospyn' has no contract_date",
        "'Service providers (hosting, email delivery and payment gateway)' has no contract_date",
        "the right 'access'",
        "the right 'grievance'",
        "the right 'nominate'",
    ),
    "003": (
        "a breach must be reported",
        "no privacy_officer or grievance_officer",
        "expects a named grievance officer",
        "'Trusted third-party service providers' has no contract_date",
        "the right 'grievance'",
        "the right 'nominate'",
    ),
}


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_example_warns_only_about_the_seeds_weaknesses(seed: str) -> None:
    path = SEEDS[seed]
    _, problems = read_declaration(path.read_text(encoding="utf-8"), name(path))
    warnings = [p.message for p in problems if p.severity == "warning"]
    unexplained = [w for w in warnings if not any(known in w for known in WEAKNESSES[seed])]
    assert unexplained == []
    gone = [known for known in WEAKNESSES[seed] if not any(known in w for w in warnings)]
    assert gone == [], "fixed in the example: update WEAKNESSES and the file's header comment"


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_example_header_names_seed_file_and_company(seed: str) -> None:
    text = SEEDS[seed].read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines()[:8] if line.startswith("#"))
    assert SEED_FILES[seed] in header
    assert policy(SEEDS[seed]).organization_name in header


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_every_section_of_a_seed_example_names_its_promise(seed: str) -> None:
    lines = SEEDS[seed].read_text(encoding="utf-8").splitlines()
    unlabelled = []
    for index, line in enumerate(lines):
        match = re.match(r"^([a-z_]+):", line)
        if not match or match.group(1) == "troth":
            continue
        start = index
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        if not re.search(r"\bP\d+\b", "\n".join(lines[start : index + 1])):
            unlabelled.append(match.group(1))
    assert unlabelled == []


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_example_collects_nothing_without_a_purpose(seed: str) -> None:
    # P2: "we collect only the information that we need" — every collected category is used.
    d = policy(SEEDS[seed]).declaration
    used = {c for p in d.purposes for c in p.categories}
    collected = {c for s in d.sources for c in s.categories}
    assert collected - used == set()
    assert {c.key for c in d.categories if not c.forbidden} - used == set()


# -- (b) each seed's promises, as facts about the loaded policy ----------------------------


@pytest.mark.parametrize("promise", PROMISES, ids=str)
def test_seed_example_keeps_its_seeds_promise(promise: Promise) -> None:
    assert promise.holds(policy(SEEDS[promise.seed])), f"{promise.number}: {promise.says}"


def test_every_seed_has_promises_in_the_table() -> None:
    assert {p.seed for p in PROMISES} == set(SEEDS)
