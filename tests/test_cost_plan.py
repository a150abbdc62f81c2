"""What costs money: UCS-2 characters, segment caps, footer, prices by country."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.errors import UsageError
from itnio_campaign.message import count_segments
from itnio_campaign.plan import plan_campaign
from itnio_campaign.pricing import read_prices

PHONES = ["+91 98765 43210", "+91 98765 43211", "+1 415 555 0100", "+44 7400 123456"]


def frame(names: list[str], stores: list[str] | None = None) -> pd.DataFrame:
    n = len(names)
    return pd.DataFrame({"phone": PHONES[:n], "name": names, "store": stores or ["Pune"] * n})


def test_ucs2_chars_column_and_summary_name_the_source() -> None:
    plan = plan_campaign(frame(["Ann", "Zoë"]), content="Hi {name}, it’s {store}", prices=0.01)
    assert plan.recipients["ucs2_chars"].tolist() == ["’", "ë’"]
    s = plan.summary()
    by_char = {c.char: c for c in s.ucs2_characters}
    assert by_char["’"].name == "RIGHT SINGLE QUOTATION MARK"
    assert by_char["’"].sources == ("template",) and by_char["’"].rows == 2
    assert by_char["ë"].sources == ("column name",) and by_char["ë"].replacement is None
    assert "RIGHT SINGLE QUOTATION MARK" in str(s) and "from template" in str(s)


def test_dry_run_says_what_smart_encoding_would_save() -> None:
    long = "x" * 100  # GSM-7 would be 1 segment, UCS-2 with ’ is 2
    plan = plan_campaign(frame(["Ann"]), content=f"Hi {{name}}, it’s {long}", prices="0.5")
    s = plan.summary()
    assert s.smart_saving_segments == 1 and s.smart_saving_cost == Decimal("0.5")
    assert s.ucs2_extra_segments == 1
    assert "would save 1 segments" in str(s)
    on = plan_campaign(
        frame(["Ann"]), content=f"Hi {{name}}, it’s {long}", prices="0.5", smart_encoding=True
    )
    assert on.recipients["segments"].tolist() == [1]
    assert "on: saved 1 segments" in str(on.summary())


def test_max_segments_skip_names_segments() -> None:
    plan = plan_campaign(frame(["Ann", "B" * 200]), content="Hi {name}", max_segments=1)
    rec = plan.recipients
    assert rec["state"].tolist() == ["ready", "skipped_too_long"]
    assert rec["reason"].iloc[1] == "message is 2 segments; the cap is 1 (max_segments)"
    assert plan.summary().segments_per_message == {1: 1}


def test_truncate_shortens_the_placeholder_just_enough() -> None:
    df = frame(["Ann", "B" * 200], ["Pune", "Delhi"])
    plan = plan_campaign(
        df, content="Hi {name} at {store}", max_segments=1, on_long="truncate:name"
    )
    rec = plan.recipients
    text = rec["content"].iloc[1]
    assert rec["state"].tolist() == ["ready", "ready"]
    assert count_segments(text) == ("GSM-7", 1) and len(text) == 160
    assert text.endswith("... at Delhi") and "shortened" in rec["reason"].iloc[1]
    assert plan.summary().truncated_rows == 1
    assert df["name"].iloc[1] == "B" * 200  # the user's frame is untouched


def test_truncate_unknown_column_is_one_line_error() -> None:
    with pytest.raises(UsageError, match="not a column"):
        plan_campaign(frame(["Ann"]), content="Hi {name}", max_segments=1, on_long="truncate:nope")


def test_footer_is_appended_counted_and_not_doubled() -> None:
    plan = plan_campaign(frame(["Ann"]), content="Hi {name}", footer="Reply STOP to opt out")
    assert plan.preview()["content"].iloc[0] == "Hi Ann Reply STOP to opt out"
    again = plan_campaign(
        frame(["Ann"]), content="Hi {name}. Reply STOP to opt out", footer="Reply STOP to opt out"
    )
    assert again.preview()["content"].iloc[0] == "Hi Ann. Reply STOP to opt out"
    long = plan_campaign(frame(["A" * 150]), content="{name}", footer="Reply STOP to opt out")
    assert long.recipients["segments"].tolist() == [2]


def test_prices_csv_as_exported_cost_by_country_and_encoding(tmp_path: Path) -> None:
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "Country;ISO;Prefix;Price;Currency\nIndia;IN;91;0,01;EUR\nUnited States;US;1;0,05;EUR\n",
        encoding="utf-8",
    )
    plan = plan_campaign(frame(["Ann", "Zoë", "Bob", "Eve"]), content="Hi {name}", prices=str(csv))
    s = plan.summary()
    assert s.currency == "EUR" and s.unpriced_rows == 1  # the UK number has no price
    assert s.cost_by_country == {"IN (+91)": Decimal("0.02"), "US (+1)": Decimal("0.05")}
    assert s.cost_by_encoding == {"GSM-7": Decimal("0.06"), "UCS-2": Decimal("0.01")}
    assert s.estimated_cost == Decimal("0.07") and "0.07 EUR" in str(s)


def test_prices_dict_longest_prefix_and_frame() -> None:
    table = read_prices({"1": 0.05, "+1 415": 0.04, "IN": 0.01})
    got = table.price_of(pd.Series(["14155550100", "12125550100", "919876543210"]))
    assert got.tolist() == [Decimal("0.04"), Decimal("0.05"), Decimal("0.01")]
    with pytest.raises(UsageError, match="no price column"):
        read_prices(pd.DataFrame({"Prefix": ["91"]}))


def test_excel_summary_shows_cost_by_country_and_encoding(tmp_path: Path) -> None:
    import openpyxl

    from itnio_campaign.excel import write_report
    from itnio_campaign.result import CampaignResult

    csv = tmp_path / "prices.csv"
    csv.write_text(
        "Country;ISO;Prefix;Price;Currency\nIndia;IN;91;0,01;EUR\nUnited States;US;1;0,05;EUR\n",
        encoding="utf-8",
    )
    plan = plan_campaign(frame(["Ann", "Zoë", "Bob", "Eve"]), content="Hi {name}", prices=str(csv))
    path = write_report(CampaignResult(plan), tmp_path / "r.xlsx")
    rows = [r for r in openpyxl.load_workbook(path)["Summary"].iter_rows(values_only=True)]
    labels = [r[0] for r in rows]
    at = labels.index("Estimated cost by country (EUR)")
    assert rows[at + 1][:2] == ("IN (+91)", 0.02) and rows[at + 2][:2] == ("US (+1)", 0.05)
    at = labels.index("Estimated cost by encoding (EUR)")
    assert {rows[at + 1][0]: rows[at + 1][1], rows[at + 2][0]: rows[at + 2][1]} == {
        "GSM-7": 0.06,
        "UCS-2": 0.01,
    }
