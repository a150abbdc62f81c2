"""Smart encoding: the replacement table and its properties."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from itnio_campaign.message import GSM7_BASIC, GSM7_EXTENSION, count_segments
from itnio_campaign.plan import plan_campaign
from itnio_campaign.smart_encoding import (
    REPLACEMENTS,
    apply_smart_encoding,
    char_name,
    smart_encode,
    ucs2_chars,
)

GSM = GSM7_BASIC + GSM7_EXTENSION
ANY = st.text(alphabet=st.sampled_from(GSM + "".join(REPLACEMENTS) + "ëé😀राहुल"), max_size=400)


def test_typographic_apostrophe_becomes_ascii_and_message_gsm7() -> None:
    assert apply_smart_encoding("Don’t miss it — 20% off…") == "Don't miss it - 20% off..."
    assert count_segments(apply_smart_encoding("It’s " + "a" * 150)) == ("GSM-7", 1)


def test_every_replacement_is_gsm7() -> None:
    assert all(c in GSM for r in REPLACEMENTS.values() for c in r)
    assert not set(REPLACEMENTS) & set(GSM)


def test_message_that_stays_ucs2_is_sent_as_written() -> None:
    assert apply_smart_encoding("Don’t 😀") == "Don’t 😀"


def test_ellipses_that_would_cost_more_are_kept() -> None:
    text = "…" * 70  # UCS-2: 1 segment; as "..." x 70 = 210 GSM-7 characters: 2 segments
    assert apply_smart_encoding(text) == text


@settings(max_examples=300, deadline=None)
@given(ANY)
def test_smart_encoded_never_counts_more_segments(text: str) -> None:
    assert count_segments(apply_smart_encoding(text))[1] <= count_segments(text)[1]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(GSM), max_size=300))
def test_gsm7_text_is_never_changed(text: str) -> None:
    assert apply_smart_encoding(text) == text
    assert smart_encode(text) == text
    assert ucs2_chars(text) == ""


def test_ucs2_chars_names_each_offender_once() -> None:
    assert ucs2_chars("Zoë’s ’😀") == "ë’😀"
    assert char_name("’") == "RIGHT SINGLE QUOTATION MARK"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["Ann", "O’Neil", "Zoë", "Sam 😀", "A—B"]), min_size=1, max_size=6))
def test_plan_replaces_placeholder_values_not_other_columns(names: list[str]) -> None:
    df = pd.DataFrame(
        {
            "phone": [f"+9198765432{i:02d}" for i in range(len(names))],
            "name": names,
            "note": ["it’s mine"] * len(names),
        }
    )
    before = df.copy(deep=True)
    off = plan_campaign(df, content="Hi {name}’s friend", smart_encoding=False)
    on = plan_campaign(df, content="Hi {name}’s friend", smart_encoding=True)
    pd.testing.assert_frame_equal(df, before)  # the user's columns are untouched
    assert (on.recipients["segments"] <= off.recipients["segments"]).all()
    for name, text in zip(names, on.recipients["content"], strict=True):
        expected = apply_smart_encoding(f"Hi {name}’s friend")
        assert text == expected
    assert off.summary().smart_saving_segments == on.summary().smart_saving_segments
