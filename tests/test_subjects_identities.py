"""Identity normalisation: one canonical form per identity, and errors that never echo the value."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from troth.subjects import IdentityError, IdentityKind, new_browser_id, normalise


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  Ana.Ruiz@Example.COM \n", "ana.ruiz@example.com"),
        ("ANA+news@Mail.Example.co.in", "ana+news@mail.example.co.in"),
        ("josé@bücher.de", "josé@xn--bcher-kva.de"),
        ("JOSÉ@BÜCHER.DE", "josé@xn--bcher-kva.de"),
        ("o'neil@example.org", "o'neil@example.org"),
    ],
)
def test_email_is_trimmed_and_lower_cased(value: str, expected: str) -> None:
    assert normalise("email", value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("ana.example.com", "exactly one '@'"),
        ("ana@@example.com", "exactly one '@'"),
        ("@example.com", "nothing before"),
        ("ana@", "nothing after"),
        ("ana@localhost", "needs a dot"),
        ("ana@example..com", "empty label"),
        ("ana@-example.com", "misplaced '-'"),
        ("ana@example.com.", "empty label"),
        ("ana@10.0.0.1", "ends in a number"),
        ("ana smith@example.com", "spaces"),
        ('"ana"@example.com', "quotes"),
        (".ana@example.com", "misplaced '.'"),
        ("ana..ruiz@example.com", "misplaced '.'"),
        ("a" * 65 + "@example.com", "longer than 64"),
        ("ana@" + "a" * 250 + ".com", "bad character"),
        ("ana@" + ".".join(["abcdefghi"] * 26) + ".com", "longer than 254"),
    ],
)
def test_email_shape_errors_name_the_kind_and_the_problem(value: str, reason: str) -> None:
    with pytest.raises(IdentityError) as caught:
        normalise(IdentityKind.email, value)
    message = str(caught.value)
    assert message.startswith("email: ")
    assert reason in message
    assert caught.value.kind == "email"


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+91 98765 43210", None, "+919876543210"),
        ("+91-98765-43210", "US", "+919876543210"),
        ("98765 43210", "IN", "+919876543210"),
        ("098765 43210", "in", "+919876543210"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_phone_becomes_e164(value: str, region: str | None, expected: str) -> None:
    assert normalise("phone", value, default_region=region) == expected


@pytest.mark.parametrize(
    ("value", "region", "reason"),
    [
        ("98765 43210", None, "needs default_region"),
        ("98765 43210", "XX", "unknown default region"),
        ("12345", "IN", "not a valid number"),
        ("+91 98765 43210 ext. 12", None, "extension"),
        ("call me maybe", "IN", "not a phone number"),
        ("", "IN", "is empty"),
        ("+" + "9" * 70, None, "longer than 64"),
    ],
)
def test_phone_errors(value: str, region: str | None, reason: str) -> None:
    with pytest.raises(IdentityError, match=reason) as caught:
        normalise("phone", value, default_region=region)
    assert str(caught.value).startswith("phone: ")


def test_external_id_is_trimmed_and_otherwise_kept() -> None:
    assert normalise("external_id", "  User-42 ") == "User-42"
    assert normalise("external_id", "cus_9Xy") != normalise("external_id", "cus_9xy")
    for bad, reason in [("", "is empty"), ("a\x00b", "control"), ("x" * 257, "longer than 256")]:
        with pytest.raises(IdentityError, match=reason):
            normalise("external_id", bad)


def test_browser_id_is_an_opaque_url_safe_token() -> None:
    token = new_browser_id()
    assert normalise("browser_id", token) == token
    assert new_browser_id() != token
    assert normalise("browser_id", "0f8fad5b-d9cb-469f-a165-70867728950e")
    for bad, reason in [
        ("short", "16 to 128 characters"),
        ("x" * 129, "16 to 128 characters"),
        ("abcdefghijklmnop ", "URL-safe"),
        ("abcdefghijklmnop\n", "URL-safe"),
        ("abcdefghijklmnop/+=", "URL-safe"),
    ]:
        with pytest.raises(IdentityError, match=reason):
            normalise("browser_id", bad)


def test_unknown_kind_and_non_text_values() -> None:
    with pytest.raises(IdentityError, match="unknown kind 'fax'; expected one of email, phone"):
        normalise("fax", "x")
    with pytest.raises(IdentityError, match="email: expected text, got int"):
        normalise("email", 42)  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
MARKER = "Qz7private"


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str]:
    region = draw(st.sampled_from(REGIONS))
    number = phonenumbers.example_number(region)
    assume(number is not None)
    formats = phonenumbers.PhoneNumberFormat
    style = draw(st.sampled_from([formats.E164, formats.INTERNATIONAL, formats.NATIONAL]))
    return phonenumbers.format_number(number, style), region


def values_for(kind: IdentityKind) -> st.SearchStrategy[str]:
    structured = {
        IdentityKind.email: st.emails(),
        IdentityKind.phone: phones().map(lambda pair: pair[0]),
        IdentityKind.external_id: st.text(min_size=1, max_size=40),
        IdentityKind.browser_id: st.text(alphabet="abcXYZ019-_", min_size=16, max_size=40),
    }[kind]
    return st.one_of(structured, st.text(max_size=60))


@given(data=st.data(), kind=st.sampled_from(list(IdentityKind)))
def test_normalise_is_idempotent(data: st.DataObject, kind: IdentityKind) -> None:
    value = data.draw(values_for(kind))
    try:
        once = normalise(kind, value, default_region="IN")
    except IdentityError:
        return
    assert normalise(kind, once) == once  # no region needed the second time: E.164 has it


@given(phones())
def test_every_regions_example_number_normalises(pair: tuple[str, str]) -> None:
    written, region = pair
    assert normalise("phone", written, default_region=region).startswith("+")


@given(
    kind=st.sampled_from(list(IdentityKind)),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    region=st.sampled_from([None, "IN"]),
)
def test_errors_never_contain_the_value(
    kind: IdentityKind, before: str, after: str, region: str | None
) -> None:
    value = before + MARKER + after
    try:
        normalise(kind, value, default_region=region)
    except IdentityError as exc:
        assert MARKER.lower() not in str(exc).lower()
        assert exc.__cause__ is None
        assert exc.__context__ is None or exc.__suppress_context__


@pytest.mark.parametrize(
    ("kind", "value", "region"),
    [
        ("email", "Qz7private@", None),
        ("email", "Qz7private@bücher\udcff.de", None),
        ("phone", "Qz7private", "IN"),
        ("phone", "+Qz7private", None),
        ("phone", "+91 Qz7private 98765", None),
        ("external_id", "Qz7private\x07", None),
        ("browser_id", "Qz7private/Qz7private", None),
    ],
)
def test_wrapped_library_errors_do_not_leak_the_value(
    kind: str, value: str, region: str | None
) -> None:
    with pytest.raises(IdentityError) as caught:
        normalise(kind, value, default_region=region)
    assert MARKER.lower() not in str(caught.value).lower()
    assert caught.value.__cause__ is None
