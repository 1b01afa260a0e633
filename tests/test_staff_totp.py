"""TOTP (RFC 6238): the reference values, the ±1 step window, and refusal of replayed codes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from troth.staff import code_at, matching_step, provisioning_uri, step_at

RFC_SECRET = b"12345678901234567890"
MOMENT = datetime(2026, 11, 26, 9, 0, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("unix_time", "eight_digits"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_codes_match_rfc_6238s_sha1_test_vectors(unix_time: int, eight_digits: str) -> None:
    step = step_at(datetime.fromtimestamp(unix_time, UTC))
    assert code_at(RFC_SECRET, step, digits=8) == eight_digits
    assert code_at(RFC_SECRET, step) == eight_digits[-6:]


def test_a_code_is_accepted_one_step_either_side_and_no_further() -> None:
    current = step_at(MOMENT)
    for offset in (-1, 0, 1):
        code = code_at(RFC_SECRET, current + offset)
        assert matching_step(RFC_SECRET, code, MOMENT, last_used_step=None) == current + offset
    for offset in (-3, -2, 2, 3):
        code = code_at(RFC_SECRET, current + offset)
        assert matching_step(RFC_SECRET, code, MOMENT, last_used_step=None) is None


def test_a_code_goes_stale_as_the_clock_moves() -> None:
    code = code_at(RFC_SECRET, step_at(MOMENT))
    assert matching_step(RFC_SECRET, code, MOMENT + timedelta(seconds=30), last_used_step=None)
    assert not matching_step(RFC_SECRET, code, MOMENT + timedelta(seconds=60), last_used_step=None)


def test_a_used_code_and_any_older_one_are_refused() -> None:
    current = step_at(MOMENT)
    code = code_at(RFC_SECRET, current)
    used = matching_step(RFC_SECRET, code, MOMENT, last_used_step=None)
    assert used == current
    # The same code again, within its window and ten seconds later: refused.
    assert matching_step(RFC_SECRET, code, MOMENT, last_used_step=used) is None
    later = MOMENT + timedelta(seconds=10)
    assert matching_step(RFC_SECRET, code, later, last_used_step=used) is None
    previous = code_at(RFC_SECRET, current - 1)
    assert matching_step(RFC_SECRET, previous, MOMENT, last_used_step=used) is None
    # The next step's code is new: accepted.
    following = code_at(RFC_SECRET, current + 1)
    assert matching_step(RFC_SECRET, following, later, last_used_step=used) == current + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12345a", "１２３４５６"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert matching_step(RFC_SECRET, code, MOMENT, last_used_step=None) is None


def test_spaces_inside_a_code_are_ignored() -> None:
    code = code_at(RFC_SECRET, step_at(MOMENT))
    spaced = f"{code[:3]} {code[3:]}"
    assert matching_step(RFC_SECRET, spaced, MOMENT, last_used_step=None) == step_at(MOMENT)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        step_at(datetime(2026, 11, 26, 9, 0))


def test_the_provisioning_uri_names_the_account_and_carries_the_secret() -> None:
    uri = provisioning_uri(RFC_SECRET, account_label="ada@example.org")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/troth%20console%3Aada%40example.org"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    padded = query["secret"] + "=" * (-len(query["secret"]) % 8)
    assert base64.b32decode(padded) == RFC_SECRET
    assert query | {"secret": ""} == {
        "secret": "",
        "issuer": "troth console",
        "algorithm": "SHA1",
        "digits": "6",
        "period": "30",
    }
