"""Phone-number normalisation (itnio_campaign.numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itnio_campaign.errors import UsageError
from itnio_campaign.numbers import (
    EMPTY,
    INVALID_NUMBER,
    NOT_A_PHONE_NUMBER,
    PRECISION_LOST,
    UNKNOWN_REGION,
    InvalidNumberError,
    calling_codes,
    normalize_number,
    normalize_numbers,
    text_to_number,
    value_to_text,
)

IN = "918563012345"

FORMATS = [
    ("+91 85630-12345", IN),
    ("+91 85630 12345", IN),
    ("+918563012345", IN),
    ("0091 85630 12345", IN),
    ("0091-8563012345", IN),
    ("8563012345", IN),  # national, default region IN
    ("08563012345", IN),  # trunk prefix
    ("085630 12345", IN),
    ("918563012345", IN),  # international without '+' (Excel ate it)
    ("918563012345.0", IN),  # a float written as text
    (918563012345.0, IN),  # a real float
    (918563012345, IN),
    (np.int64(918563012345), IN),
    ("(+91) 856-301-2345", IN),
    ("85.63.01.23.45", IN),
    ("'+918563012345", IN),  # Excel's text marker
    ("  +91 85630 12345  ", IN),
    ("+91\u00a085630\u201112345", IN),  # no-break space, non-breaking hyphen
    ("9.18563012345e+11", IN),  # scientific, but every digit is there
    ("+1 (212) 456-7890", "12124567890"),
    ("0012124567890", "12124567890"),
    ("+44 7400 123456", "447400123456"),
    ("447400123456", "447400123456"),
    ("+49 1512 3456789", "4915123456789"),
    ("+55 11 91234-5678", "5511912345678"),
    ("+234 803 123 4567", "2348031234567"),
]


@pytest.mark.parametrize(("value", "expected"), FORMATS)
def test_formats(value: object, expected: str) -> None:
    assert normalize_number(value) == expected
    out = normalize_numbers(pd.Series([value], dtype=object))
    assert out["number"].tolist() == [expected]
    assert out["state"].tolist() == ["ready"]


TRAPS = [
    (None, EMPTY),
    (float("nan"), EMPTY),
    (pd.NA, EMPTY),
    ("", EMPTY),
    ("   ", EMPTY),
    ("9.18563e+11", PRECISION_LOST),  # rounded by Excel: never guessed
    ("9.18563E+11", PRECISION_LOST),
    (9.18563e11, PRECISION_LOST),  # the same after a CSV reader made it a float
    (1e17, PRECISION_LOST),
    (2.5, NOT_A_PHONE_NUMBER),
    (-918563012345, NOT_A_PHONE_NUMBER),
    (True, NOT_A_PHONE_NUMBER),
    ("abc", NOT_A_PHONE_NUMBER),
    ("1-800-FLOWERS", NOT_A_PHONE_NUMBER),  # no vanity letters
    ("+91 98765 ext 12", NOT_A_PHONE_NUMBER),
    ("+91 12345", INVALID_NUMBER),
    ("+91 98765", INVALID_NUMBER),
    ("12345", INVALID_NUMBER),
    ("+999 123456789", INVALID_NUMBER),  # no such calling code
    ("+1 212 000 0000", INVALID_NUMBER),
]


@pytest.mark.parametrize(("value", "reason"), TRAPS)
def test_traps(value: object, reason: str) -> None:
    with pytest.raises(InvalidNumberError) as info:
        normalize_number(value)
    assert info.value.reason == reason
    assert isinstance(info.value, UsageError)
    out = normalize_numbers(pd.Series([value], dtype=object))
    assert out["state"].tolist() == ["skipped_invalid"]
    assert out["reason"].tolist() == [reason]
    assert out["number"].isna().all()


def test_float_column_vectorised() -> None:
    s = pd.Series([918563012345.0, 9.18563e11, np.nan, 2.5, 8563012345.0])
    out = normalize_numbers(s)
    assert out["number"].tolist()[0] == IN
    assert out["reason"].tolist() == ["", PRECISION_LOST, EMPTY, NOT_A_PHONE_NUMBER, ""]
    assert out["number"].tolist()[4] == IN


def test_int_column() -> None:
    out = normalize_numbers(pd.Series([918563012345, 8563012345]))
    assert out["number"].tolist() == [IN, IN]


@pytest.mark.parametrize("dtype", ["str", "object", "string"])
def test_string_dtypes_agree(dtype: str) -> None:
    values = [v for v, _ in FORMATS if isinstance(v, str)] + ["9.18563e+11", "", "x"]
    out = normalize_numbers(pd.Series(values, dtype=dtype))
    expected = [normalize_or_none(v) for v in values]
    assert out["number"].astype(object).where(out["number"].notna(), None).tolist() == expected


def normalize_or_none(value: object, region: str = "IN") -> str | None:
    try:
        return normalize_number(value, region)
    except InvalidNumberError:
        return None


def test_regions_per_row_and_unknown_region() -> None:
    s = pd.Series(["(212) 456-7890", "07400 123456", "8563012345", "8563012345", "+91 8563012345"])
    out = normalize_numbers(s, default_region="IN", regions=["US", "gb", None, "XX", "XX"])
    assert out["number"].tolist()[:3] == ["12124567890", "447400123456", IN]
    assert out["reason"].tolist()[3] == UNKNOWN_REGION
    assert out["number"].tolist()[4] == IN  # international numbers need no region


def test_default_region_checked() -> None:
    with pytest.raises(UsageError, match="unknown region"):
        normalize_numbers(pd.Series(["1"]), default_region="XX")
    with pytest.raises(UsageError, match="unknown region"):
        normalize_number("1", default_region="India")


def test_index_preserved_and_input_untouched() -> None:
    s = pd.Series(
        ["+91 8563012345", None, "x"],
        index=pd.MultiIndex.from_tuples([("a", 1), ("a", 1), ("b", 2)]),
    )
    before = s.copy(deep=True)
    out = normalize_numbers(s)
    assert out.index.equals(s.index)
    pd.testing.assert_series_equal(s, before)


def test_value_to_text_scientific() -> None:
    assert value_to_text("9.18563012345E+11") == (IN, None)
    assert value_to_text("9.18563E+11") == (None, PRECISION_LOST)
    assert value_to_text("1.5e0") == (None, NOT_A_PHONE_NUMBER)


def test_calling_codes() -> None:
    s = pd.Series(["918563012345", "12124567890", "447400123456", "2348031234567"])
    assert calling_codes(s).tolist() == [91, 1, 44, 234]


def test_ready_numbers_have_8_to_15_digits() -> None:
    # Niue numbers are valid but only 7 digits with their calling code: the sandbox refuses
    assert phonenumbers.is_valid_number(phonenumbers.parse("+6834002"))
    out = normalize_numbers(pd.Series(["+683 4002"]))
    assert out["state"].tolist() == ["skipped_invalid"]


# --- the vectorised fast path must agree with phonenumbers, value by value ----------------

_prefixes = st.sampled_from(
    [
        "+91",
        "91",
        "0091",
        "0",
        "",
        "+1",
        "1",
        "+44",
        "44",
        "+49",
        "+55",
        "+234",
        "+7",
        "+39",
        "+61",
        "+800",
        "+262",
        "00",
    ]
)
_bodies = st.text(alphabet="0123456789", min_size=0, max_size=13)


_rows = st.lists(
    st.tuples(_prefixes, _bodies, st.sampled_from(["IN", "US", "GB", "DE"])),
    min_size=1,
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(_rows)
def test_fast_path_agrees_with_phonenumbers(rows: list[tuple[str, str, str]]) -> None:
    _check_agreement(rows)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(_rows)
def test_fast_path_agrees_with_phonenumbers_long(rows: list[tuple[str, str, str]]) -> None:
    _check_agreement(rows)


def _check_agreement(rows: list[tuple[str, str, str]]) -> None:
    values = [p + b for p, b, _ in rows]
    regions = [r for _, _, r in rows]
    out = normalize_numbers(pd.Series(values, dtype="str"), regions=regions)
    for v, r, got in zip(values, regions, out["number"].tolist(), strict=True):
        text_to_number.cache_clear()
        want = normalize_or_none(v, r)
        assert (None if pd.isna(got) else got) == want, (v, r)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["IN", "US", "GB", "DE", "BR", "NG"]), min_size=1, max_size=30),
    st.randoms(use_true_random=False),
)
def test_valid_generated_numbers_are_ready(countries: list[str], rnd) -> None:  # type: ignore[no-untyped-def]
    values, expected = [], []
    for c in countries:
        example = phonenumbers.example_number_for_type(c, phonenumbers.PhoneNumberType.MOBILE)
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        spelled = rnd.choice(
            [
                e164,
                "00" + e164[1:],
                e164[1:],
                phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            ]
        )
        values.append(spelled)
        expected.append(e164[1:])
    out = normalize_numbers(pd.Series(values, dtype="str"))
    assert out["number"].tolist() == expected


# --- a minus sign and broken text are never a phone number ---------------------------------


@pytest.mark.parametrize(
    "values",
    [
        ["-918563012356", -918563012356],  # text and integer alike
        pd.Series(["-918563012356", "\u2212918563012356", " '-918563012356"], dtype="str"),
        pd.Series([-918563012356], dtype="int64"),
        pd.Series([-918563012356.0]),
    ],
)
def test_minus_sign_is_refused_as_text_and_as_number(values: object) -> None:
    out = normalize_numbers(values)  # type: ignore[arg-type]
    assert set(out["reason"]) == {NOT_A_PHONE_NUMBER}
    for v in list(values):  # type: ignore[call-overload]
        assert value_to_text(v) == (None, NOT_A_PHONE_NUMBER)


@pytest.mark.parametrize("dtype", ["object", pd.StringDtype("python")])
def test_lone_surrogate_in_a_phone_column_is_skipped_not_raised(dtype: object) -> None:
    values = pd.Series(["+91 98765 43210", "A\ud83dB", "98765\udc0043210", None], dtype=dtype)  # type: ignore[call-overload]
    out = normalize_numbers(values)
    assert out["number"].tolist()[0] == "919876543210"
    assert out["reason"].tolist()[1:] == [NOT_A_PHONE_NUMBER, NOT_A_PHONE_NUMBER, "empty"]


def test_lone_surrogate_in_a_region_is_an_unknown_region() -> None:
    values = pd.Series(["98765 43210", "98765 43211"], dtype=object)
    out = normalize_numbers(values, regions=pd.Series(["IN", "I\ud83d"], dtype=object))
    assert out["reason"].tolist() == ["", "unknown_region"]


@pytest.mark.parametrize(
    "text", ["919800000001;919800000002", "9198000000#01", "98000*00001", "98000 00001!"]
)
def test_two_numbers_or_stray_symbols_in_one_cell_are_refused_not_truncated(text: str) -> None:
    # phonenumbers alone reads the digits before the junk: only the first of two numbers
    # would be messaged (or suppressed), or a wrong number made of a prefix
    assert text_to_number(text, "IN") == (None, NOT_A_PHONE_NUMBER)
    assert normalize_numbers(pd.Series([text], dtype="str"))["reason"].tolist() == [
        NOT_A_PHONE_NUMBER
    ]
