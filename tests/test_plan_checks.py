"""The plan refuses what the API could not take: orderIds, sender ids, content, broken text;
counts content length conservatively; names rows plainly (itnio_campaign.plan)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from itnio_campaign.errors import UsageError
from itnio_campaign.models import (
    READY,
    SKIPPED_DUPLICATE,
    SKIPPED_INVALID,
    SKIPPED_TOO_LONG,
    check_sender_id,
)
from itnio_campaign.plan import plan_campaign


def mobile(i: int) -> str:
    return f"+91 98{i:08d}"


def frame(n: int, **extra: list[object]) -> pd.DataFrame:
    columns: dict[str, object] = {
        "phone": pd.Series([mobile(i) for i in range(n)], dtype=object),
        "name": pd.Series([f"N{i}" for i in range(n)], dtype=object),
    }
    columns.update({k: pd.Series(v, dtype=object) for k, v in extra.items()})
    return pd.DataFrame(columns)


def column(plan_: object, name: str) -> list[object]:
    return plan_.recipients[name].tolist()  # type: ignore[attr-defined]


# --- orderIds -----------------------------------------------------------------------------------


def test_order_ids_differing_only_in_spaces_never_go_out_together() -> None:
    plan = plan_campaign(frame(3, oid=[" a", "a ", "a"]), content="Hi {name}", order_id_col="oid")
    assert column(plan, "state") == [SKIPPED_INVALID, SKIPPED_INVALID, READY]
    assert column(plan, "reason")[:2] == ["order_id has spaces at the start or end"] * 2
    assert [b.order_ids for b in plan.batches] == [("a",)]


@pytest.mark.parametrize("oid", ["a\nb", "a\rb", "a\tb", "a\x00b", "a\u200bb", "a\u2028b"])
def test_order_id_with_a_line_break_or_control_character_skips_the_row(oid: str) -> None:
    plan = plan_campaign(frame(2, oid=[oid, "ok"]), content="Hi {name}", order_id_col="oid")
    assert column(plan, "state") == [SKIPPED_INVALID, READY]
    assert column(plan, "reason")[0] == (
        "order_id has a control or invisible character (e.g. a line break)"
    )


def test_two_ready_rows_never_share_an_order_id() -> None:
    df = frame(4, oid=["x", "x", "y", "x"])
    df.index = pd.Index([10, 11, 12, 13], dtype="int64")
    plan = plan_campaign(df, content="Hi {name}", order_id_col="oid")
    assert column(plan, "state") == [READY, SKIPPED_INVALID, READY, SKIPPED_INVALID]
    assert column(plan, "reason")[1] == "order_id also used by row 10"
    ids = [o for b in plan.batches for o in b.order_ids]
    assert sorted(ids) == ["x", "y"]
    assert plan.summary().skipped == {
        (SKIPPED_INVALID, "order_id also used by an earlier ready row"): 2
    }


def test_a_row_with_a_bad_order_id_does_not_take_the_number_from_a_good_row() -> None:
    df = frame(2, oid=["a\n", "b"])
    df["phone"] = [mobile(1), mobile(1)]
    plan = plan_campaign(df, content="Hi {name}", order_id_col="oid")
    assert column(plan, "state") == [SKIPPED_INVALID, READY]


def test_a_repeated_order_id_on_a_skipped_row_is_no_conflict() -> None:
    df = frame(2, oid=["a", "a"])
    df["phone"] = ["not a number", mobile(1)]
    plan = plan_campaign(df, content="Hi {name}", order_id_col="oid")
    assert column(plan, "state") == [SKIPPED_INVALID, READY]


# --- broken text (lone surrogates) through the Python API ----------------------------------------


def test_lone_surrogate_in_the_phone_column_skips_the_row() -> None:
    df = frame(3)
    df["phone"] = pd.Series([mobile(0), "A\ud83dB", mobile(2)], dtype=object)
    plan = plan_campaign(df, content="Hi {name}")
    assert column(plan, "state") == [READY, SKIPPED_INVALID, READY]
    assert column(plan, "reason")[1] == "not_a_phone_number"


def test_lone_surrogate_in_a_placeholder_column_skips_the_row() -> None:
    df = frame(3)
    df["name"] = pd.Series(["Ann", "A\ud83dB", "Cy 😀"], dtype=object)
    plan = plan_campaign(df, content="Hi {name}")
    assert column(plan, "state") == [READY, SKIPPED_INVALID, READY]
    assert column(plan, "reason")[1] == "broken text (an unpaired surrogate) in name"
    assert [i.content for b in plan.batches for i in b.items] == ["Hi Ann", "Hi Cy 😀"]


def test_lone_surrogate_in_an_order_id_or_region_skips_the_row() -> None:
    plan = plan_campaign(frame(2, oid=["a\ud83d", "b"]), content="Hi {name}", order_id_col="oid")
    assert column(plan, "state") == [SKIPPED_INVALID, READY]
    assert "broken character" in column(plan, "reason")[0]
    df = frame(2, region=["IN", "I\ud83d"])
    df["phone"] = pd.Series(["98000 00001", "98000 00002"], dtype=object)
    plan = plan_campaign(df, content="Hi {name}", region_col="region")
    assert column(plan, "state") == [READY, SKIPPED_INVALID]
    assert column(plan, "reason")[1] == "unknown_region"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("Hi \ud83d {name}", "content has a broken character at position 3"),
        ("   ", "content is only spaces"),
        ("\n \t", "content is only spaces"),
    ],
)
def test_blank_or_broken_content_is_one_clear_error(content: str, match: str) -> None:
    with pytest.raises(UsageError, match=match) as err:
        plan_campaign(frame(1), content=content)
    assert "\n" not in str(err.value)


# --- sender id: one check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "match"),
    [
        ("   ", "is only spaces"),
        ("SHOP,2", "contains a comma"),
        ("SH\nOP", "control or invisible character"),
        ("SH\x00OP", "control or invisible character"),
        (" SHOP", "spaces at the start or end"),
        ("X" * 33, "is 33 characters; at most 32"),
        ("😀" * 17, "is 34 characters; at most 32"),  # counted in UTF-16 units
        ("S\ud83d", "control or invisible character"),
        (42, "must be text"),
    ],
)
def test_sender_id_the_api_could_not_take_is_refused(sender: object, match: str) -> None:
    with pytest.raises(UsageError, match=match) as err:
        plan_campaign(frame(1), content="Hi {name}", sender_id=sender)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)
    with pytest.raises(UsageError, match=match):
        check_sender_id(sender)


@pytest.mark.parametrize(("sender", "sent"), [("MY SHOP", "MY SHOP"), ("", None), (None, None)])
def test_good_sender_ids_pass(sender: str | None, sent: str | None) -> None:
    plan = plan_campaign(frame(1), content="Hi {name}", sender_id=sender)
    assert plan.batches[0].items[0].sender_id == sent


# --- content length in UTF-16 units --------------------------------------------------------------


def test_content_length_counts_emoji_as_two_units() -> None:
    df = frame(4, body=["a" * 1024, "😀" * 512, "😀" * 513, "a" * 1000 + "😀" * 20])
    plan = plan_campaign(df, content="{body}")
    assert column(plan, "state") == [READY, READY, SKIPPED_TOO_LONG, SKIPPED_TOO_LONG]
    assert column(plan, "reason")[2:] == [
        "content is 1026 UTF-16 units (513 characters, emoji count 2); the limit is 1024",
        "content is 1040 UTF-16 units (1020 characters, emoji count 2); the limit is 1024",
    ]
    for b in plan.batches:
        for item in b.items:
            assert len(item.content.encode("utf-16-le")) // 2 <= 1024


def test_dry_run_says_when_messages_are_counted_in_utf16_units() -> None:
    df = frame(3, body=["plain", "Zoë", "party 🎉"])
    s = plan_campaign(df, content="Hi {body}").summary()
    assert s.utf16_rows == 1 and s.as_dict()["utf16_rows"] == 1
    assert "1, counted as UTF-16 units against the 1,024 limit" in str(s)
    plain = plan_campaign(frame(2), content="Hi {name}").summary()
    assert plain.utf16_rows == 0 and "UTF-16" not in str(plain)


# --- messages and placeholders -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "named"),
    [
        (pd.Index(np.array([5, 6], dtype=np.int64)), "duplicate of row 5"),
        (pd.Index(["r1", "r2"]), "duplicate of row 'r1'"),
        (pd.Index(np.array([1.5, 2.5])), "duplicate of row 1.5"),
        (pd.MultiIndex.from_tuples([("a", 1), ("a", 2)]), "duplicate of row ('a', 1)"),
    ],
)
def test_duplicate_names_the_row_plainly(index: pd.Index, named: str) -> None:
    df = frame(2)
    df["phone"] = [mobile(1), mobile(1)]
    df.index = index
    plan = plan_campaign(df, content="Hi {name}")
    assert column(plan, "state") == [READY, SKIPPED_DUPLICATE]
    assert column(plan, "reason")[1] == named


def test_placeholder_of_digits_addresses_an_integer_column_label() -> None:
    df = pd.DataFrame({0: [mobile(1), mobile(2)], 1: ["Ann", "Bo"]})  # read without header
    plan = plan_campaign(df, number_col=0, content="Hi {1}!")
    assert [i.content for b in plan.batches for i in b.items] == ["Hi Ann!", "Hi Bo!"]
    with pytest.raises(UsageError, match="placeholder '2' is not a column"):
        plan_campaign(df, number_col=0, content="Hi {2}!")


def test_minus_sign_is_refused_as_text_and_as_integer_alike() -> None:
    df = frame(3)
    df["phone"] = pd.Series([mobile(1), "-918563012356", -918563012356], dtype=object)
    plan = plan_campaign(df, content="Hi {name}")
    assert column(plan, "state") == [READY, SKIPPED_INVALID, SKIPPED_INVALID]
    assert column(plan, "reason")[1:] == ["not_a_phone_number"] * 2
    text = plan_campaign(frame(1).assign(phone=["-918563012356"]), content="Hi {name}")
    assert column(text, "reason") == ["not_a_phone_number"]
