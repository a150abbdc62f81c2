"""Planning a campaign from a DataFrame (itnio_campaign.plan): states, requests, summary."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itnio_campaign.errors import UsageError
from itnio_campaign.message import count_segments
from itnio_campaign.models import (
    READY,
    SKIPPED_DUPLICATE,
    SKIPPED_INVALID,
    SKIPPED_MISSING_FIELD,
    SKIPPED_STATES,
    SKIPPED_SUPPRESSED,
    SKIPPED_TOO_LONG,
    Balance,
)
from itnio_campaign.plan import Plan, PlanSummary, plan_campaign

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
TEMPLATE = "Hi {first_name}, 20% off today at {store}!"


def frame(
    phones: list[object], names: list[object] | None = None, **extra: list[object]
) -> pd.DataFrame:
    names = names if names is not None else [f"N{i}" for i in range(len(phones))]
    return pd.DataFrame({"phone": phones, "first_name": names, "store": "MG Road", **extra})


def mobile(i: int) -> str:
    return f"+91 98{i:08d}"


# --- bad input: one clear error before any work -----------------------------------------


@pytest.mark.parametrize(
    ("make", "kwargs", "match"),
    [
        (lambda: [1, 2], {}, "needs a pandas DataFrame"),
        (lambda: pd.DataFrame({"phone": []}), {}, "no rows"),
        (lambda: frame([mobile(1)]), {"number_col": "mobile"}, "number_col 'mobile'"),
        (lambda: frame([mobile(1)]), {"content": "Hi {nope}"}, r"placeholder 'nope'"),
        (lambda: frame([mobile(1)]), {"content": "Hi {first_name"}, "malformed"),
        (lambda: frame([mobile(1)]), {"content": ""}, "non-empty template"),
        (lambda: frame([mobile(1)]), {"sender_id": "X" * 33}, "at most 32"),
        (lambda: frame([mobile(1)]), {"region_col": "region"}, "region_col 'region'"),
        (lambda: frame([mobile(1)]), {"default_region": "India"}, "unknown region"),
        (lambda: frame([mobile(1)]), {"prices": "cheap"}, "not a number"),
        (lambda: frame([mobile(1)]), {"prices": {"India": 1}}, "calling code"),
        (lambda: frame([mobile(1)]), {"prices": -1}, "non-negative"),
        (lambda: frame([mobile(1)]), {"suppress": 42}, "suppress must be"),
        (lambda: frame([mobile(1)]), {"suppress": "/nonexistent/opt.csv"}, "no such file"),
        (lambda: frame([mobile(1)]), {"order_id_col": "oid"}, "order_id_col 'oid'"),
    ],
)
def test_bad_input_raises(make, kwargs, match) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"content": TEMPLATE, **kwargs}
    with pytest.raises(UsageError, match=match):
        plan_campaign(make(), **kwargs)


def test_duplicate_column_names_refused() -> None:
    df = pd.DataFrame([[mobile(1), mobile(2)]], columns=["phone", "phone"])
    with pytest.raises(UsageError, match="more than one column"):
        plan_campaign(df, content="x")


@pytest.mark.parametrize(
    ("ids", "reason"),
    [
        (["a", "a"], "order_id also used by row 0"),
        (["a", None], "order_id is empty"),
        (["a", "b,c"], "order_id contains a comma"),
        (["a", "x" * 65], "order_id is longer than 64 characters"),
    ],
)
def test_bad_order_ids_skip_their_row_with_a_reason(ids: list[object], reason: str) -> None:
    df = frame([mobile(1), mobile(2)], oid=ids)
    plan = plan_campaign(df, content=TEMPLATE, order_id_col="oid")
    assert plan.recipients["state"].tolist() == [READY, SKIPPED_INVALID]
    assert plan.recipients["reason"].tolist() == ["", reason]
    assert [b.order_ids for b in plan.batches] == [("a",)]


def test_order_id_col_only_checked_on_ready_rows() -> None:
    df = frame([mobile(1), "bad", mobile(1)], oid=[7.0, None, 7.0])
    plan = plan_campaign(df, content=TEMPLATE, order_id_col="oid")
    assert plan.recipients["order_id"].tolist()[0] == "7"  # numbers render without .0
    assert plan.recipients["state"].tolist() == [READY, SKIPPED_INVALID, SKIPPED_DUPLICATE]
    assert plan.batches[0].items[0].order_ids == ("7",)


# --- rows: states and reasons -------------------------------------------------------------


def test_missing_field_never_renders_nan() -> None:
    df = frame([mobile(1), mobile(2), mobile(3), mobile(4)], ["Ann", np.nan, None, "  "])
    plan = plan_campaign(df, content=TEMPLATE)
    rec = plan.recipients
    assert rec["state"].tolist() == [READY] + [SKIPPED_MISSING_FIELD] * 3
    assert rec["reason"].tolist()[1:] == ["missing field first_name"] * 3
    assert not any("nan" in c for b in plan.batches for i in b.items for c in [i.content])


def test_numbers_render_without_point_zero() -> None:
    df = frame([mobile(1), mobile(2)], pct=[20.0, 12.5])
    plan = plan_campaign(df, content="{pct}% off")
    assert plan.recipients["content"].tolist() == ["20% off", "12.5% off"]


def test_too_long_is_skipped_with_reason() -> None:
    df = frame([mobile(1), mobile(2)], ["A" * 1100, "Bo"])
    plan = plan_campaign(df, content="{first_name}")
    assert plan.recipients["state"].tolist() == [SKIPPED_TOO_LONG, READY]
    assert "1100 characters" in plan.recipients["reason"].iloc[0]
    assert all(len(i.content) <= 1024 for b in plan.batches for i in b.items)


def test_duplicates_keep_the_first_and_name_it() -> None:
    df = frame(["+91 98765 43210", "09876543210", "919876543210.0", mobile(5)])
    df.index = ["r1", "r2", "r3", "r4"]
    plan = plan_campaign(df, content=TEMPLATE)
    rec = plan.recipients
    assert rec["state"].tolist() == [READY, SKIPPED_DUPLICATE, SKIPPED_DUPLICATE, READY]
    assert rec["reason"].tolist()[1:3] == ["duplicate of row 'r1'"] * 2


def test_priority_invalid_suppressed_duplicate_missing_too_long() -> None:
    df = frame(
        ["bad", mobile(1), mobile(1), mobile(2), mobile(2), mobile(3), mobile(4)],
        [None, None, "A", "B", None, None, "x" * 2000],
    )
    plan = plan_campaign(df, content="{first_name}", suppress=[mobile(1)])
    assert plan.recipients["state"].tolist() == [
        SKIPPED_INVALID,  # invalid beats missing field
        SKIPPED_SUPPRESSED,  # suppressed beats missing field
        SKIPPED_SUPPRESSED,  # suppressed beats duplicate
        READY,
        SKIPPED_DUPLICATE,  # duplicate beats missing field
        SKIPPED_MISSING_FIELD,
        SKIPPED_TOO_LONG,
    ]


@pytest.mark.parametrize("kind", ["series", "frame", "list", "set", "csv", "xlsx"])
def test_suppress_sources_use_the_same_normalisation(kind: str, tmp_path: Path) -> None:
    df = frame(["+91 98765 43210", mobile(2), "+1 212 456 7890"])
    raw = ["0091-98765-43210", "(212) 456-7890 "]
    source: object
    if kind == "series":
        source = pd.Series(raw)
    elif kind == "frame":
        source = pd.DataFrame({"Phone": raw, "note": ["x", "y"]})
    elif kind == "list":
        source = raw
    elif kind == "set":
        source = set(raw)
    elif kind == "csv":
        source = tmp_path / "opt.csv"
        pd.DataFrame({"phone": raw}).to_csv(source, index=False)
    else:
        source = tmp_path / "opt.xlsx"
        pd.DataFrame({"phone": raw}).to_excel(source, index=False)
    plan = plan_campaign(df, content=TEMPLATE, suppress=source, default_region="IN")
    # "(212) 456-7890" is read in the default region IN, so only the first row matches
    assert plan.recipients["state"].tolist() == [SKIPPED_SUPPRESSED, READY, READY]


def test_region_col() -> None:
    df = frame(["(212) 456-7890", "07400 123456", "9876543210"], region=["US", "GB", None])
    plan = plan_campaign(df, content=TEMPLATE, region_col="region")
    assert plan.recipients["number"].tolist() == ["12124567890", "447400123456", "919876543210"]


def test_segments_and_encoding_per_row() -> None:
    names = ["Ann", "Zoë", "😀" * 40, "€" * 100]
    df = frame([mobile(i) for i in range(4)], names)
    plan = plan_campaign(df, content="{first_name}")
    rec = plan.recipients
    for name, enc, seg in zip(names, rec["encoding"], rec["segments"], strict=True):
        assert (enc, seg) == count_segments(name)


# --- requests -----------------------------------------------------------------------------


def test_same_content_goes_to_send_sms_in_thousands() -> None:
    df = pd.DataFrame({"phone": [mobile(i) for i in range(2500)]})
    plan = plan_campaign(df, content="Sale today!")
    assert [(b.endpoint, b.size) for b in plan.batches] == [
        ("sendSms", 1000),
        ("sendSms", 1000),
        ("sendSms", 500),
    ]
    assert [b.batch_id for b in plan.batches] == [0, 1, 2]


def test_personalised_contents_are_packed_into_batch_requests() -> None:
    df = frame([mobile(i) for i in range(2300)], [f"N{i % 700}" for i in range(2300)])
    plan = plan_campaign(df, content=TEMPLATE)
    assert len(plan.batches) == math.ceil(2300 / 1000)
    assert {b.endpoint for b in plan.batches} == {"sendSms/batch"}
    assert all(b.size <= 1000 for b in plan.batches)
    assert sum(len(b.items) for b in plan.batches) >= 700


def _check_batches(plan: Plan) -> None:
    rec = plan.recipients
    ready_positions = np.flatnonzero((rec["state"] == READY).to_numpy())
    seen: list[int] = []
    for b in plan.batches:
        numbers = [n for item in b.items for n in item.numbers]
        assert 0 < len(numbers) == len(b.positions) <= 1000
        assert b.endpoint == ("sendSms" if len(b.items) == 1 else "sendSms/batch")
        for item in b.items:
            assert item.order_ids is not None and len(item.order_ids) == len(item.numbers)
            assert 0 < len(item.content) <= 1024
            assert item.sender_id is None or len(item.sender_id) <= 32
        contents = [item.content for item in b.items for _ in item.numbers]
        oids = [o for item in b.items for o in (item.order_ids or ())]
        assert [rec["number"].iloc[p] for p in b.positions] == numbers
        assert [rec["content"].iloc[p] for p in b.positions] == contents
        assert [rec["order_id"].iloc[p] for p in b.positions] == oids
        seen += b.positions
    assert sorted(seen) == ready_positions.tolist()  # every ready row exactly once
    assert len(plan.batches) == math.ceil(len(ready_positions) / 1000)


def test_order_ids_generated_unique_short_deterministic() -> None:
    df = frame([mobile(i) for i in range(1500)] + ["bad"])
    a = plan_campaign(df, content=TEMPLATE)
    b = plan_campaign(df.copy(), content=TEMPLATE)
    ids = a.recipients["order_id"]
    assert ids.iloc[:1500].is_unique and ids.iloc[1500:].isna().all()
    assert ids.str.len().max() <= 16
    assert ids.tolist() == b.recipients["order_id"].tolist()
    assert a.fingerprint == b.fingerprint
    c = plan_campaign(df, content=TEMPLATE + " ")
    assert c.fingerprint != a.fingerprint
    assert c.recipients["order_id"].iloc[0] != ids.iloc[0]  # another campaign, other ids
    _check_batches(a)


# --- the frame and its index ----------------------------------------------------------------


@pytest.mark.parametrize(
    "index",
    [
        pd.Index(["x", "x", "y", "z"]),
        pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1), ("a", 1)]),
        pd.Index([10, 3, 3, -1]),
        pd.date_range("2024-01-01", periods=4),
    ],
)
def test_index_order_preserved_and_input_untouched(index: pd.Index) -> None:
    df = frame([mobile(3), None, mobile(1), mobile(3)], ["A", "B", None, "D"])
    df.index = index
    before = df.copy(deep=True)
    plan = plan_campaign(df, content=TEMPLATE)
    pd.testing.assert_frame_equal(df, before)
    assert plan.source is df
    assert plan.recipients.index.equals(index)
    assert plan.recipients["state"].tolist() == [
        READY,
        SKIPPED_INVALID,
        SKIPPED_MISSING_FIELD,
        SKIPPED_DUPLICATE,
    ]


# --- property test over generated frames ----------------------------------------------------

PHONE_POOL = [
    "+91 98765 43210",
    "9876543210",
    "09876543210",
    "919876543210.0",
    919876543210.0,
    "9.18765e+11",
    "0091-98111-22233",
    "+91 98111 22233",
    "+1 212 456 7890",
    "+44 7400 123456",
    "+49 1512 3456789",
    "",
    None,
    np.nan,
    "abc",
    "+91 12345",
    "98765",
    "+55 11 91234-5678",
]
NAME_POOL = [
    "Ann",
    "Zoë",
    "Łukasz",
    "राहुल",
    "محمد",
    "Sam 😀",
    None,
    np.nan,
    "",
    "€uro",
    3.0,
    "x" * 1030,
]


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 60))
    phones = draw(
        st.lists(
            st.one_of(
                st.sampled_from(PHONE_POOL), st.integers(6_000_000_000, 9_999_999_999).map(str)
            ),
            min_size=n,
            max_size=n,
        )
    )
    names = draw(st.lists(st.sampled_from(NAME_POOL), min_size=n, max_size=n))
    index_kind = draw(st.sampled_from(["range", "dup", "str", "multi"]))
    index: pd.Index
    if index_kind == "range":
        index = pd.RangeIndex(n)
    elif index_kind == "dup":
        index = pd.Index([i % 3 for i in range(n)])
    elif index_kind == "str":
        index = pd.Index([f"k{n - i}" for i in range(n)])
    else:
        index = pd.MultiIndex.from_arrays([[i % 2 for i in range(n)], [f"r{i}" for i in range(n)]])
    return pd.DataFrame(
        {
            "phone": pd.Series(phones, dtype=object).to_numpy(),
            "first_name": pd.Series(names, dtype=object).to_numpy(),
            "store": "Pune",
        },
        index=index,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.booleans())
def test_properties(df: pd.DataFrame, suppress: bool) -> None:
    before = df.copy(deep=True)
    plan = plan_campaign(
        df, content=TEMPLATE, prices=0.01, suppress=["+91 98111 22233"] if suppress else None
    )
    pd.testing.assert_frame_equal(df, before)  # never mutated
    rec = plan.recipients
    assert rec.index.equals(df.index) and list(rec.columns) == [
        "number",
        "order_id",
        "content",
        "encoding",
        "segments",
        "state",
        "reason",
        "ucs2_chars",
    ]
    assert set(rec["state"]) <= {READY, *SKIPPED_STATES}  # exactly one state per row
    s = plan.summary()
    assert s.rows == len(df) == sum(s.counts.values()) == s.ready + sum(s.skipped.values())
    ready = rec[rec["state"] == READY]
    assert ready["number"].is_unique
    assert ready["number"].str.len().between(8, 15).all()
    assert not ready["content"].str.contains("nan").any()
    # duplicates keep the first: every duplicate's number was ready or skipped later, earlier
    first_rows = {}
    for pos, (num, state) in enumerate(zip(rec["number"], rec["state"], strict=True)):
        if state == SKIPPED_DUPLICATE:
            assert num in first_rows
        elif state in (READY, SKIPPED_MISSING_FIELD, SKIPPED_TOO_LONG) and num not in first_rows:
            first_rows[num] = pos
    _check_batches(plan)
    assert s.estimated_cost == Decimal("0.01") * int(ready["segments"].sum())


# --- summary ----------------------------------------------------------------------------------


class FakeBalanceClient:
    """Stands in for AsyncClient.get_balance (the client is tested elsewhere)."""

    def __init__(self, balance: str) -> None:
        self.balance = Balance(Decimal(balance), Decimal("1"), Decimal("0"))

    async def get_balance(self) -> Balance:
        return self.balance


async def test_check_balance_adds_to_summary() -> None:
    plan = plan_campaign(
        frame([mobile(i) for i in range(10)]), content=TEMPLATE, prices={91: "0.5"}
    )
    s = await plan.check_balance(FakeBalanceClient("2"))
    assert s.estimated_cost == Decimal("5.0")
    assert s.available == Decimal("3") and s.enough_balance is False
    assert "enough balance" in str(s) and "NO" in str(s)
    assert plan.summary().balance is not None  # stored on the plan
    s = await plan.check_balance(FakeBalanceClient("10"))
    assert s.enough_balance is True


def test_cost_unknown_and_unpriced() -> None:
    df = frame([mobile(1), "+1 212 456 7890"])
    assert plan_campaign(df, content=TEMPLATE).summary().estimated_cost is None
    assert "unknown" in str(plan_campaign(df, content=TEMPLATE).summary())
    s = plan_campaign(df, content=TEMPLATE, prices={"+91": 1}).summary()
    assert s.estimated_cost == Decimal(1) and s.unpriced_rows == 1
    assert "1 ready rows without a price" in str(s)


def test_summary_views() -> None:
    plan = plan_campaign(frame([mobile(1), "x", None]), content=TEMPLATE)
    s = plan.summary()
    assert isinstance(s, PlanSummary)
    assert s.as_dict()["skipped"] == {
        "skipped_invalid: not_a_phone_number": 1,
        "skipped_invalid: empty": 1,
    }
    assert "<table>" in s._repr_html_() and "skipped_invalid" in s._repr_html_()
    f = s.to_frame()
    assert list(f.columns) == ["metric", "value"] and f.iloc[0].tolist() == ["rows", "3"]
    p = plan.preview(5)
    assert list(p.columns) == ["number", "content", "encoding", "segments"] and len(p) == 1


def test_settings_are_json() -> None:
    import json

    plan = plan_campaign(frame([mobile(1)]), content=TEMPLATE, sender_id="ACME", prices=0.1)
    assert json.loads(json.dumps(plan.settings))["sender_id"] == "ACME"
    assert plan.settings["content"] == TEMPLATE and plan.settings["prices"] == "0.1"


def test_restore_gives_the_same_summary() -> None:
    plan = plan_campaign(frame([mobile(1), "x"]), content=TEMPLATE, prices={91: 0.1})
    again = Plan.restore(
        source=plan.source,
        recipients=plan.recipients,
        batches=plan.batches,
        settings=plan.settings,
        fingerprint=plan.fingerprint,
    )
    assert str(again.summary()) == str(plan.summary())


# --- the sample data ----------------------------------------------------------------------------

SAMPLE_PRICES = {91: "0.0025", 1: "0.01", 44: "0.04", 49: "0.08", 55: "0.03", 234: "0.05"}
EXPECTED_SAMPLE_SUMMARY = """\
rows                                          3,000
ready                                         2,574
  skipped_invalid (precision_lost)               74
  skipped_invalid (empty)                        59
  skipped_invalid (invalid_number)               15
  skipped_invalid (not_a_phone_number)            5
  skipped_duplicate                             145
  skipped_suppressed                             41
  skipped_missing_field (first_name)             60
  skipped_missing_field (store)                  26
  skipped_too_long                                1
suppression                              43 entries read, 41 valid numbers, removed 41 rows
  not phone numbers, e.g.                '+1 212 000 0000', 'not a number'
unique contents                                 265
requests                                          3
  sendSms/batch                                   3
segments                                      2,574
  GSM-7 messages                              2,491
  UCS-2 messages                                 83
  segments per message                     1: 2,574
  messages with emoji                    7, counted as UTF-16 units against the 1,024 limit
characters forcing UCS-2
  र DEVANAGARI LETTER RA                 19 rows; from column first_name; no GSM-7 equivalent
  ा DEVANAGARI VOWEL SIGN AA             19 rows; from column first_name; no GSM-7 equivalent
  ë LATIN SMALL LETTER E WITH DIAERESIS  15 rows; from column first_name; no GSM-7 equivalent
  م ARABIC LETTER MEEM                   15 rows; from column first_name; no GSM-7 equivalent
  Ł LATIN CAPITAL LETTER L WITH STROKE   13 rows; from column first_name; no GSM-7 equivalent
  ह DEVANAGARI LETTER HA                 12 rows; from column first_name; no GSM-7 equivalent
  ु DEVANAGARI VOWEL SIGN U              12 rows; from column first_name; no GSM-7 equivalent
  ल DEVANAGARI LETTER LA                 12 rows; from column first_name; no GSM-7 equivalent
  ...                                    13 more (summary().ucs2_characters)
  extra segments from UCS-2              0 ≈ 0.0000
estimated cost                              21.2725
  IN (+91)                                   5.4825
  BR (+55)                                     1.38
  GB (+44)                                     3.48
  US (+1)                                      1.05
  DE (+49)                                     7.28
  NG (+234)                                    2.60
  GSM-7                                     20.5425
  UCS-2                                      0.7300
"""


def _sample_plan(kind: str) -> Plan:
    if kind == "csv":
        df = pd.read_csv(SAMPLE / "contacts.csv", dtype=str)
    else:
        df = pd.read_excel(SAMPLE / "contacts.xlsx")
    return plan_campaign(
        df,
        content=TEMPLATE,
        sender_id="ACME",
        region_col="region",
        suppress=SAMPLE / "opt_outs.csv",
        prices=SAMPLE_PRICES,
    )


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_sample_data_summary(kind: str) -> None:
    plan = _sample_plan(kind)
    assert str(plan.summary()) == EXPECTED_SAMPLE_SUMMARY.rstrip("\n")
    _check_batches(plan)


def test_sample_data_matches_its_generator(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_sample_data", SAMPLE / "make_sample_data.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(tmp_path)
    for name in ("contacts.csv", "opt_outs.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    pd.testing.assert_frame_equal(
        pd.read_excel(tmp_path / "contacts.xlsx"), pd.read_excel(SAMPLE / "contacts.xlsx")
    )
    # the copy the demo ships inside the package is the same file
    packaged = SAMPLE.parent / "itnio_campaign" / "sample_data" / "contacts.csv"
    assert packaged.read_bytes() == (SAMPLE / "contacts.csv").read_bytes()
