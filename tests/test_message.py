"""Encoding, segment counting and template rendering (itnio_campaign.message)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from itnio_campaign.errors import UsageError
from itnio_campaign.message import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    check_content,
    count_segments,
    format_value,
    render_frame,
    render_template,
    template_fields,
)
from itnio_campaign.models import utf16_len


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0)),
        ("a", ("GSM-7", 1)),
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 306, ("GSM-7", 2)),
        ("a" * 307, ("GSM-7", 3)),
        ("€" * 80, ("GSM-7", 1)),  # 160 positions
        ("€" * 81, ("GSM-7", 2)),
        ("a" * 159 + "^", ("GSM-7", 2)),  # escape pair makes 161
        ("a" * 152 + "€" + "a" * 152, ("GSM-7", 3)),  # the € pair is not split across parts
        ("a" * 153 + "a" * 153, ("GSM-7", 2)),
        ("é" * 160, ("GSM-7", 1)),  # é is in the GSM-7 basic alphabet
        ("\f" * 80, ("GSM-7", 1)),
        ("ж" * 70, ("UCS-2", 1)),
        ("ж" * 71, ("UCS-2", 2)),
        ("ж" * 134, ("UCS-2", 2)),
        ("ж" * 135, ("UCS-2", 3)),
        ("a" * 69 + "ë", ("UCS-2", 1)),  # one non-GSM char switches the whole text
        ("a" * 70 + "ë", ("UCS-2", 2)),
        ("😀" * 35, ("UCS-2", 1)),  # surrogate pairs: 70 code units
        ("😀" * 36, ("UCS-2", 2)),
        ("a" * 66 + "😀" + "a" * 66, ("UCS-2", 3)),  # the pair is not split
        ("a" * 65 + "👍🏽" + "a" * 65, ("UCS-2", 3)),  # skin tone stays with its emoji
        ("a" * 64 + "🇮🇳" + "a" * 64, ("UCS-2", 3)),  # a flag is one cluster (4 units)
        ("a" * 62 + "👨‍👩‍👧" + "a" * 62, ("UCS-2", 3)),  # ZWJ family: 8 units, one cluster
        ("a" * 66 + "é" + "a" * 66, ("GSM-7", 1)),  # é is GSM-7: 133 positions
        ("ж" + "a" * 65 + "e\u0301" + "a" * 66, ("UCS-2", 3)),  # combining acute stays with e
        ("ж" + "a" * 64 + "\u0915\u094d\u0937" + "a" * 65, ("UCS-2", 3)),  # Devanagari conjunct
        ("`", ("UCS-2", 1)),  # backtick is not GSM-7
    ],
)
def test_count_segments_table(text: str, expected: tuple[str, int]) -> None:
    assert count_segments(text) == expected


def test_every_gsm_character_is_gsm7() -> None:
    assert count_segments(GSM7_BASIC) == ("GSM-7", 1)
    assert count_segments(GSM7_EXTENSION)[0] == "GSM-7"
    assert count_segments(GSM7_EXTENSION * 8) == ("GSM-7", 1)  # 10 chars * 2 * 8 = 160
    assert count_segments(GSM7_EXTENSION * 8 + "a") == ("GSM-7", 2)


@given(st.text(alphabet=GSM7_BASIC + GSM7_EXTENSION, max_size=600))
def test_gsm_segments_bounds(text: str) -> None:
    enc, n = count_segments(text)
    assert enc == "GSM-7"
    positions = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    if positions == 0:
        assert n == 0
    elif positions <= 160:
        assert n == 1
    else:
        # at least the ideal packing, at most one extra part per boundary (escape moved)
        ideal = -(-positions // 153)
        assert ideal <= n <= -(-positions // 152)


@given(st.text(min_size=1, max_size=300))
def test_any_text_has_an_encoding_and_enough_parts(text: str) -> None:
    enc, n = count_segments(text)
    units = len(text.encode("utf-16-le")) // 2
    assert n >= 1
    if enc == "UCS-2":
        assert n >= (1 if units <= 70 else -(-units // 67))


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("Hi {first_name}, 20% off at {store}!", ("first_name", "store")),
        ("{a}{b}{a}", ("a", "b")),
        ("no fields {{literal}}", ()),
        ("", ()),
    ],
)
def test_template_fields(template: str, fields: tuple[str, ...]) -> None:
    assert template_fields(template) == fields


@pytest.mark.parametrize(
    ("template", "match"),
    [
        ("Hi {first_name", "malformed"),
        ("Hi first_name}", "malformed"),
        ("Hi {}", "must name a column"),
        ("Hi {a.b}", "not supported"),
        ("Hi {a[0]}", "not supported"),
        ("Hi {a!r}", "not supported"),
        ("Hi {a:>5}", "not supported"),
    ],
)
def test_bad_templates_raise(template: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        template_fields(template)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (2.5, "2.5"),
        (np.float64(20.0), "20"),
        (np.int64(7), "7"),
        (-1.0, "-1"),
        ("Zoë", "Zoë"),
        (float("nan"), None),
        (None, None),
        (pd.NA, None),
        ("", None),
        ("   ", None),
        (True, "True"),
    ],
)
def test_format_value(value: object, text: str | None) -> None:
    assert format_value(value) == text


def test_render_template_mapping() -> None:
    assert render_template("Hi {n}, {p}% {{x}}", {"n": "Ann", "p": 20.0}) == "Hi Ann, 20% {x}"
    with pytest.raises(UsageError, match="no such field"):
        render_template("Hi {n}", {})
    with pytest.raises(UsageError, match="missing"):
        render_template("Hi {n}", {"n": float("nan")})


@pytest.mark.parametrize("dtype", ["str", "object"])
def test_render_frame_vectorised_matches_row_by_row(dtype: str) -> None:
    df = pd.DataFrame(
        {
            "name": pd.array(["Ann", None, "", "Zoë", "Łukasz"], dtype=dtype),
            "pct": [20.0, 15.5, 3.0, np.nan, 10.0],
            "n": [1, 2, 3, 4, 5],
        },
        index=["x", "y", "x", 10, ("a", 1)],
    )
    r = render_frame("Hi {name}, {pct}% off #{n} {{ok}}", df)
    assert list(r.content.index) == list(df.index)
    assert list(r.missing) == ["", "name", "name", "pct", ""]
    assert list(r.content) == ["Hi Ann, 20% off #1 {ok}", "", "", "", "Hi Łukasz, 10% off #5 {ok}"]


def test_render_frame_unknown_column() -> None:
    with pytest.raises(UsageError, match=r"\{nope\}.*no such column"):
        render_frame("Hi {nope}", pd.DataFrame({"a": [1]}))


def test_render_frame_no_placeholders_and_empty() -> None:
    r = render_frame("Same for all", pd.DataFrame({"a": [1, 2]}))
    assert list(r.content) == ["Same for all"] * 2
    r = render_frame("Hi {a}", pd.DataFrame({"a": pd.Series([], dtype="str")}))
    assert len(r.content) == 0


# --- placeholders that address integer column labels; broken text -------------------------


def test_digit_placeholder_addresses_an_integer_column_label() -> None:
    df = pd.DataFrame({0: ["+91 98765 43210"], 1: ["Ann"]})  # read without a header row
    assert list(render_frame("Hi {1}!", df).content) == ["Hi Ann!"]
    assert render_template("Hi {1}", {1: "Bo"}) == "Hi Bo"
    # a column labelled "1" (text) wins over the integer label 1
    both = pd.DataFrame({"1": ["text"], 1: ["int"]})
    assert list(render_frame("{1}", both).content) == ["text"]
    with pytest.raises(UsageError, match=r"\{2\}.*no such column"):
        render_frame("Hi {2}", df)


@pytest.mark.parametrize("dtype", ["object", pd.StringDtype("python")])
def test_lone_surrogate_in_a_placeholder_column_marks_the_row_broken(dtype: object) -> None:
    df = pd.DataFrame({"name": pd.Series(["Ann", "A\ud83dB", None], dtype=dtype)})  # type: ignore[call-overload]
    r = render_frame("Hi {name}", df)
    assert list(r.content) == ["Hi Ann", "", ""]
    assert list(r.broken) == ["", "name", ""]
    assert list(r.missing) == ["", "", "name"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("   ", "only spaces"),
        ("\n\t ", "only spaces"),
        ("Hi \ud83d {name}", r"broken character at position 3.*'Hi \\ud83d \{name\}'"),
        ("", "non-empty"),
        (None, "non-empty"),
    ],
)
def test_check_content_refuses_blank_and_broken_text(content: object, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        check_content(content)


def test_content_length_is_counted_in_utf16_units() -> None:
    assert utf16_len("a" * 10) == 10
    assert utf16_len("😀" * 10) == 20  # outside the BMP: a surrogate pair each
    assert utf16_len("ë€") == 2
