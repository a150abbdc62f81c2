"""The Excel report (itnio_campaign.excel): every sheet is written, then read back with openpyxl."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from itnio_campaign import models as m
from itnio_campaign.errors import UsageError
from itnio_campaign.excel import write_report

HYPERLINK = '=HYPERLINK("http://x","y")'
RISKY = [HYPERLINK, "+44 7700 900123", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "=1+1"]
UNICODE_NAMES = ["José Müller", "李小龙", "Zoë 🎉", "Ngũgĩ wa Thiong'o", "Ольга <b>&</b>", " pad "]
SECRETS = {
    "api_key": "AK-should-never-appear",
    "api_secret": "SK-should-never-appear",
    "Auth_Token": "TK-should-never-appear",
    "nested": {"password": "PW-should-never-appear", "keep": "kept-value"},
}
FAILURE_STATES = set(m.FAILURE_STATES)  # the one list the form and the report share
OUTCOMES = [
    "number",
    "order_id",
    "content",
    "encoding",
    "segments",
    "sms_state",  # the user has a "state" column, so the outcome is renamed
    "msg_id",
    "reason",
    "batch",
    "submitted_at",
    "delivery_status",
    "delivered_at",
]


@dataclass
class StandInSummary:
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass
class StandInResult:
    """What runner.py's result offers to the report (see ReportSource)."""

    frame: pd.DataFrame
    outcome_columns: list[str]
    settings: dict[str, Any]
    summary_data: dict[str, Any]
    batches: pd.DataFrame
    calls: list[str] = field(default_factory=list)

    def summary(self) -> StandInSummary:
        return StandInSummary(self.summary_data)

    def batches_frame(self) -> pd.DataFrame:
        return self.batches.copy()


def make_result(n: int = 280) -> StandInResult:
    """A campaign of ``n`` rows covering every state and the awkward values real lists have."""
    rng = np.random.default_rng(7)
    t0 = datetime(2024, 11, 26, 9, 30, tzinfo=UTC)
    states = [m.ALL_STATES[i % len(m.ALL_STATES)] for i in range(n)]
    accepted = [s in m.ACCEPTED_STATES for s in states]
    names = [UNICODE_NAMES[i % len(UNICODE_NAMES)] + f" {i}" for i in range(n)]
    for i, risky in enumerate(RISKY):
        if 3 + 11 * i < n:
            names[3 + 11 * i] = risky
    names[5] = None  # type: ignore[call-overload]
    names[6] = "bell\x07inside"
    phones = [f"+9185630{i:05d}" if i % 3 else f"085630{i:05d}" for i in range(n)]
    frame = pd.DataFrame(
        {
            "name": names,
            "phone": phones,
            "state": ["CA" if i % 2 else "NY" for i in range(n)],  # clashes with the outcome
            "amount": [
                np.nan if i % 9 == 0 else round(float(x), 2)
                for i, x in enumerate(rng.random(n) * 100)
            ],
            "vip": [i % 4 == 0 for i in range(n)],
            "signup": pd.date_range("2024-01-01 08:00", periods=n, freq="37min", tz="Asia/Kolkata"),
        },
        index=pd.Index([f"C{1000 + i}" for i in range(n)], name="customer"),
    )
    reasons = [
        "" if s not in FAILURE_STATES and not s.startswith("skipped") else f"reason for {s}"
        for s in states
    ]
    reasons[states.index(m.REJECTED)] = HYPERLINK  # a provider reason that looks like a formula
    outcome = pd.DataFrame(
        {
            "number": [
                np.nan if s == m.SKIPPED_INVALID else "+91" + p[1:] if p.startswith("0") else p
                for s, p in zip(states, phones, strict=True)
            ],
            "order_id": [f"00{i:06d}" for i in range(n)],
            "content": [f"Hi {nm or 'there'}, 20% off!" for nm in names],
            "encoding": ["GSM-7" if i % 2 else "UCS-2" for i in range(n)],
            "segments": [1 + (i % 3 == 0) for i in range(n)],
            "sms_state": states,
            "msg_id": [f"2024112609{i:010d}" if a else np.nan for i, a in enumerate(accepted)],
            "reason": reasons,
            "batch": pd.array(
                [i // 50 if not s.startswith("skipped") else None for i, s in enumerate(states)],
                dtype="Int64",
            ),
            "submitted_at": (pd.Timestamp(t0) + pd.to_timedelta(np.arange(n), unit="s")).where(
                np.array(accepted)
            ),
            "delivery_status": [
                s if s in (m.DELIVERED, m.UNDELIVERED, m.SENDING) else np.nan for s in states
            ],
            "delivered_at": (pd.Timestamp(t0) + pd.to_timedelta(np.arange(n) + 60, unit="s")).where(
                np.array(states) == m.DELIVERED
            ),
        },
        index=frame.index,
    )
    full = pd.concat([frame, outcome], axis=1)
    counts = {s: states.count(s) for s in m.ALL_STATES}
    batches = pd.DataFrame(
        {
            "batch": range(6),
            "endpoint": ["sendSms/batch"] * 6,
            "size": [50] * 5 + [max(0, n - 250)],
            "started_at": pd.date_range(t0, periods=6, freq="s", tz="UTC"),
            "finished_at": pd.date_range(
                t0 + timedelta(milliseconds=400), periods=6, freq="s", tz="UTC"
            ),
            "latency_s": [0.4, 0.41, 0.39, 2.5, 0.4, 0.38],
            "attempts": [1, 1, 1, 3, 1, 1],
            "status_code": ["0", "0", "0", "-16", "0", HYPERLINK],
            "reason": ["", "", "", "rate limited, retried", "", "odd answer"],
            "outcome": ["ok", "ok", "ok", "ok", "ok", "unknown"],
        }
    )
    summary = {
        "rows": n,
        "counts": counts,
        "requests": 6,
        "retries": 2,
        "wall_time_s": 3.25,
        "numbers_per_s": 86.15,
        "status": "completed",
        "halt_reason": None,
        "started_at": t0,
        "finished_at": t0 + timedelta(seconds=3.25),
        "segments": int(outcome["segments"].sum()),
        "estimated_cost": Decimal("1.2345"),
        "charged_cost": Decimal("1.20"),
        "currency": "USD",
    }
    settings = {
        "content": "Hi {name}, 20% off!",
        "sender_id": "=SHOP",
        "region": "IN",
        "concurrency": 4,
        **SECRETS,
    }
    return StandInResult(full, OUTCOMES, settings, summary, batches)


@pytest.fixture(scope="module")
def result() -> StandInResult:
    return make_result()


@pytest.fixture(scope="module")
def book(result: StandInResult, tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    path = write_report(result, tmp_path_factory.mktemp("xl") / "spring-promo.xlsx")
    return openpyxl.load_workbook(path)


def sheet_dicts(ws: Any) -> list[dict[str, Any]]:
    rows = list(ws.iter_rows())
    header = [c.value for c in rows[0]]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


def summary_values(ws: Any) -> dict[str, Any]:
    return {row[0].value: row[1].value for row in ws.iter_rows() if len(row) > 1 and row[0].value}


def expected_text(value: Any) -> Any:
    """What a string cell holds after the round trip (NaN -> empty, control char -> U+FFFD)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    return str(value).replace("\x07", "\ufffd")


# --- structure ------------------------------------------------------------------------------


def test_sheets_in_order_and_no_replies_sheet_unless_given(book: openpyxl.Workbook) -> None:
    # the stand-in covers every state, the workspace's exclusions too
    assert book.sheetnames == ["Summary", "Recipients", "Failures", "Excluded", "Batches"]


def test_replies_sheet_written_when_given(result: StandInResult, tmp_path: Path) -> None:
    replies = pd.DataFrame(
        {
            "number": ["+918563000001", "+918563000002"],
            "content": ["STOP", "=cmd|' /C calc'!A0"],
            "receive_time": pd.to_datetime(["2024-11-26 10:00", "2024-11-26 10:05"]).tz_localize(
                "UTC"
            ),
            "price": [Decimal("0.01"), None],
        }
    )
    wb = openpyxl.load_workbook(write_report(result, tmp_path / "r.xlsx", replies=replies))
    assert wb.sheetnames[-1] == "Replies"
    rows = sheet_dicts(wb["Replies"])
    assert [r["number"].value for r in rows] == ["+918563000001", "+918563000002"]
    assert rows[1]["content"].value == "=cmd|' /C calc'!A0"
    assert rows[1]["content"].data_type == "s"
    assert rows[0]["receive_time (UTC)"].value == datetime(2024, 11, 26, 10, 0)
    assert rows[0]["price"].value == pytest.approx(0.01)
    assert rows[1]["price"].value is None


def test_every_table_sheet_has_frozen_header_filter_and_readable_widths(
    book: openpyxl.Workbook,
) -> None:
    for title in ("Recipients", "Failures", "Batches"):
        ws = book[title]
        assert ws.freeze_panes == "A2", title
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        assert all(c.font.bold for c in ws[1])
        widths = [ws.column_dimensions[c.column_letter].width for c in ws[1]]
        assert all(8 <= w <= 50 for w in widths), (title, widths)
    name_width = book["Recipients"].column_dimensions["B"].width
    assert name_width >= len("Ngũgĩ wa Thiong'o 100")


# --- Recipients -------------------------------------------------------------------------------


def test_recipients_hold_every_row_and_column_in_order(
    book: openpyxl.Workbook, result: StandInResult
) -> None:
    ws = book["Recipients"]
    header = [c.value for c in ws[1]]
    tz_columns = {"signup", "submitted_at", "delivered_at"}
    expected_header = ["customer"] + [
        f"{c} (UTC)" if c in tz_columns else c for c in result.frame.columns
    ]
    assert header == expected_header
    assert ws.max_row == len(result.frame) + 1
    assert [c.value for c in ws["A"][1:]] == list(result.frame.index)


def test_recipient_values_and_types_survive(book: openpyxl.Workbook, result: StandInResult) -> None:
    rows = sheet_dicts(book["Recipients"])
    frame = result.frame
    for row, (_, src) in zip(rows, frame.iterrows(), strict=True):
        for column in ("name", "phone", "number", "order_id", "msg_id", "reason", "content"):
            cell = row[column]
            assert cell.value == expected_text(src[column]), (column, src[column], cell.value)
            if cell.value is not None:
                assert cell.data_type == "s"
        for column in ("phone", "number", "order_id", "msg_id"):  # ids: text, shown as text
            if row[column].value is not None:
                assert row[column].number_format == "@"
        assert row["segments"].value == src["segments"] and row["segments"].data_type == "n"
        assert row["vip"].value is bool(src["vip"])
        if np.isnan(src["amount"]):
            assert row["amount"].value is None
        else:
            assert row["amount"].value == pytest.approx(src["amount"])
        batch = row["batch"].value
        assert batch is None if pd.isna(src["batch"]) else batch == src["batch"]
        for column in ("signup", "submitted_at", "delivered_at"):
            got = row[f"{column} (UTC)"].value
            if pd.isna(src[column]):
                assert got is None
            else:
                want = src[column].tz_convert("UTC").tz_localize(None).to_pydatetime()
                assert got.tzinfo is None
                assert abs(got - want) < timedelta(milliseconds=1)


def test_leading_plus_and_zero_are_kept(book: openpyxl.Workbook) -> None:
    phones = [c.value for c in book["Recipients"]["C"][1:]]
    assert phones[0].startswith("0") and phones[1].startswith("+")
    order_ids = [r["order_id"].value for r in sheet_dicts(book["Recipients"])]
    assert order_ids[:2] == ["00000000", "00000001"]
    msg_ids = [r["msg_id"].value for r in sheet_dicts(book["Recipients"]) if r["msg_id"].value]
    assert msg_ids and all(len(x) == 20 for x in msg_ids)  # 20 digits, not 2.02E+19


def test_state_cells_are_coloured_by_state(book: openpyxl.Workbook) -> None:
    colour: dict[str, str] = {}
    for row in sheet_dicts(book["Recipients"]):
        colour.setdefault(row["sms_state"].value, row["sms_state"].fill.fgColor.rgb[-6:])
    assert set(colour) == set(m.ALL_STATES)
    assert colour[m.DELIVERED] == colour[m.SUBMITTED] == "C6EFCE"
    assert colour[m.REJECTED] == colour[m.UNDELIVERED] == "FFC7CE"
    assert colour[m.UNKNOWN] == colour[m.MISSING] == colour[m.SENDING] == "FFEB9C"
    assert {colour[s] for s in m.SKIPPED_STATES} == {"D9D9D9"}


def test_formula_looking_strings_are_stored_as_text(book: openpyxl.Workbook) -> None:
    rows = sheet_dicts(book["Recipients"])
    names = {r["name"].value: r["name"] for r in rows}
    for risky in RISKY:
        cell = names[risky]  # value unchanged, CR and tab included
        assert cell.data_type == "s", risky
        assert cell.quotePrefix, risky
    reasons = [r["reason"] for r in rows if r["reason"].value == HYPERLINK]
    assert len(reasons) == 1 and reasons[0].data_type == "s"
    batches = sheet_dicts(book["Batches"])
    assert batches[5]["status_code"].value == HYPERLINK
    assert batches[5]["status_code"].data_type == "s"
    assert batches[3]["status_code"].value == "-16"
    for ws in book.worksheets:  # nothing anywhere became a formula
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row), ws.title


def test_numeric_phone_column_read_as_float_becomes_text(tmp_path: Path) -> None:
    result = make_result(20)
    result.frame["mobile"] = [918563012345.0 + i if i % 5 else np.nan for i in range(20)]
    result.frame["visits"] = [float(i) for i in range(20)]  # a plain number stays a number
    wb = openpyxl.load_workbook(write_report(result, tmp_path / "f.xlsx"))
    rows = sheet_dicts(wb["Recipients"])
    assert [r["mobile"].value for r in rows[:3]] == [None, "918563012346", "918563012347"]
    assert rows[1]["mobile"].data_type == "s"
    assert rows[3]["visits"].value == 3 and rows[3]["visits"].data_type == "n"


# --- Failures, Batches, Summary -----------------------------------------------------------------


def test_failures_hold_exactly_the_failed_rows_with_reasons(
    book: openpyxl.Workbook, result: StandInResult
) -> None:
    rows = sheet_dicts(book["Failures"])
    failed = result.frame[result.frame["sms_state"].isin(FAILURE_STATES)]
    assert [r["customer"].value for r in rows] == list(failed.index)
    assert {r["sms_state"].value for r in rows} == FAILURE_STATES
    assert all(r["reason"].value for r in rows)


def test_batches_one_row_per_request(book: openpyxl.Workbook, result: StandInResult) -> None:
    rows = sheet_dicts(book["Batches"])
    assert len(rows) == len(result.batches)
    assert [r["attempts"].value for r in rows] == [1, 1, 1, 3, 1, 1]
    assert rows[3]["latency_s"].value == pytest.approx(2.5)
    assert rows[3]["reason"].value == "rate limited, retried"
    assert rows[0]["started_at (UTC)"].value == datetime(2024, 11, 26, 9, 30)


def test_summary_kpis_and_chart(book: openpyxl.Workbook, result: StandInResult) -> None:
    ws = book["Summary"]
    kv = summary_values(ws)
    counts = result.summary_data["counts"]
    assert kv["Rows"] == len(result.frame)
    assert kv["Delivered"] == counts[m.DELIVERED]
    assert kv["Undelivered"] == counts[m.UNDELIVERED]
    assert kv["Unknown (reconcile before resending)"] == counts[m.UNKNOWN]
    assert kv["Skipped: duplicate"] == counts[m.SKIPPED_DUPLICATE]
    assert kv["Estimated cost (USD)"] == pytest.approx(1.2345)
    assert kv["Charged cost (USD)"] == pytest.approx(1.20)
    assert kv["Started"] == datetime(2024, 11, 26, 9, 30)
    assert kv["Duration (s)"] == pytest.approx(3.25)
    assert kv["Numbers per second"] == pytest.approx(86.15)
    assert kv["Status"] == "completed"
    for state in m.ALL_STATES:  # the chart's data table adds up to the rows
        assert kv[state] == counts[state]
    assert sum(kv[s] for s in m.ALL_STATES) == kv["Rows"]
    assert len(ws._charts) == 1
    assert kv["sender_id"] == "=SHOP" and ws["B1"].data_type != "f"


def test_no_secret_setting_is_written_anywhere(result: StandInResult, tmp_path: Path) -> None:
    path = write_report(result, tmp_path / "s.xlsx")
    kv = summary_values(openpyxl.load_workbook(path)["Summary"])
    assert kv["region"] == "IN" and kv["concurrency"] == 4
    assert "kept-value" in kv["nested"]
    with zipfile.ZipFile(path) as z:
        raw = b"".join(z.read(name) for name in z.namelist())
    for secret in ("AK-should", "SK-should", "TK-should", "PW-should", "api_key", "api_secret"):
        assert secret.encode() not in raw, secret


# --- the row limit: split, never truncate ---------------------------------------------------------


def test_rows_past_the_sheet_limit_continue_on_numbered_sheets(
    result: StandInResult, tmp_path: Path
) -> None:
    wb = openpyxl.load_workbook(write_report(result, tmp_path / "split.xlsx", max_rows=101))
    parts = [t for t in wb.sheetnames if t.startswith("Recipients")]
    assert parts == ["Recipients", "Recipients (2)", "Recipients (3)"]
    ids = []
    for title in parts:
        ws = wb[title]
        assert ws.max_row <= 101 and ws.freeze_panes == "A2"
        assert [c.value for c in ws[1]] == [c.value for c in wb["Recipients"][1]]
        assert ws.auto_filter.ref.endswith(str(ws.max_row))
        ids += [c.value for c in ws["A"][1:]]
        assert [c.value for c in ws["A"][1:]] and ws[
            "A2"
        ].row == 2  # rows start right under the header
    assert ids == list(result.frame.index)
    notes = summary_values(wb["Summary"])
    assert "part 3 of 3" in notes["Recipients (3)"] and "201-280" in notes["Recipients (3)"]


def test_read_only_mode_reads_the_spliced_rows(tmp_path: Path) -> None:
    path = write_report(make_result(30), tmp_path / "ro.xlsx")
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb["Recipients"].iter_rows(values_only=True))
    assert len(rows) == 31 and rows[1][0] == "C1000" and rows[30][0] == "C1029"


# --- bad input ----------------------------------------------------------------------------------


def test_bad_input_is_refused_and_an_existing_report_is_untouched(tmp_path: Path) -> None:
    result = make_result(30)  # enough rows for every state
    with pytest.raises(UsageError, match=r"\.xlsx"):
        write_report(result, tmp_path / "report.csv")
    with pytest.raises(UsageError, match="replies"):
        write_report(result, tmp_path / "r.xlsx", replies=[{"number": "1"}])  # type: ignore[arg-type]
    no_state = StandInResult(result.frame, ["number"], {}, result.summary_data, result.batches)
    with pytest.raises(UsageError, match="state"):
        write_report(no_state, tmp_path / "r.xlsx")

    target = tmp_path / "keep.xlsx"
    target.write_bytes(b"previous report")

    class Broken(StandInResult):
        def batches_frame(self) -> pd.DataFrame:
            raise RuntimeError("ledger unavailable")

    broken = Broken(result.frame, OUTCOMES, {}, result.summary_data, result.batches)
    with pytest.raises(RuntimeError, match="ledger"):
        write_report(broken, target)
    assert target.read_bytes() == b"previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.xlsx"]


def test_user_frame_untouched_and_index_handling(tmp_path: Path) -> None:
    result = make_result(30)
    before = result.frame.copy()
    result.summary_data = {**result.summary_data, "numbers_per_s": float("inf")}  # wall time 0
    wb = openpyxl.load_workbook(write_report(result, tmp_path / "a.xlsx"))
    pd.testing.assert_frame_equal(result.frame, before)
    assert summary_values(wb["Summary"])["Numbers per second"] == "inf"

    result.frame = before.reset_index(drop=True)  # a default index is not written
    wb = openpyxl.load_workbook(write_report(result, tmp_path / "b.xlsx"))
    assert wb["Recipients"]["A1"].value == "name"

    result.frame = before.set_index([before.index, "state"], drop=False)  # two levels
    wb = openpyxl.load_workbook(write_report(result, tmp_path / "c.xlsx"))
    header = [c.value for c in wb["Recipients"][1]]
    assert header[:3] == ["customer", "state", "name"] and header.count("state") == 2


def test_empty_campaign_still_gives_a_report(tmp_path: Path) -> None:
    result = make_result(30)  # enough rows for every state
    result.frame = result.frame.iloc[0:0]
    result.summary_data = {**result.summary_data, "rows": 0, "counts": {}}
    result.batches = result.batches.iloc[0:0]
    wb = openpyxl.load_workbook(write_report(result, tmp_path / "empty.xlsx"))
    assert wb["Recipients"].max_row == 1
    assert summary_values(wb["Summary"])["Rows"] == 0


# --- at scale, and as another spreadsheet program reads it -------------------------------------


def _need_soffice() -> None:
    """Skip without LibreOffice, except in CI (ITNIO_REQUIRE_SOFFICE=1), where it must run."""
    if shutil.which("soffice") is not None:
        return
    reason = "LibreOffice not installed (apt-get install libreoffice-calc-nogui)"
    if os.environ.get("ITNIO_REQUIRE_SOFFICE") == "1":
        pytest.fail(reason + " — ITNIO_REQUIRE_SOFFICE=1 makes this a failure")
    pytest.skip(reason)


@pytest.mark.slow
def test_libreoffice_opens_the_report(result: StandInResult, tmp_path: Path) -> None:
    _need_soffice()
    path = write_report(result, tmp_path / "lo.xlsx", max_rows=201)
    csv_filter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", csv_filter, "--outdir", str(tmp_path / "csv"), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    parts = [pd.read_csv(tmp_path / "csv" / f"lo-{t}.csv", dtype=str, keep_default_na=False)
             for t in ("Recipients", "Recipients (2)")]  # fmt: skip
    sheet = pd.concat(parts, ignore_index=True)
    assert list(sheet["customer"]) == list(result.frame.index)
    assert list(sheet["phone"]) == list(result.frame["phone"])  # leading 0 and + kept
    assert HYPERLINK in set(sheet["name"]) and HYPERLINK in set(sheet["reason"])
