"""The Excel report of a campaign planned with a workspace (issue 13): the Summary counts the
exclusions, the sheet "Excluded" lists those rows with their reasons. Real flow: a real
workspace file, sends to the sandbox over loopback, the report read back with openpyxl."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd

from itnio_campaign.client import AsyncClient
from itnio_campaign.excel import write_report
from itnio_campaign.plan import plan_campaign
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import Sandbox
from itnio_campaign.workspace import Workspace


def people(indices: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone": [f"+91 98{i:08d}" for i in indices],
            "name": [f"Cust{i}" for i in indices],
        }
    )


async def sent(ws: Workspace, client: AsyncClient, who: list[int], content: str, **kw: object):  # type: ignore[no-untyped-def]
    plan = plan_campaign(people(who), "phone", content, workspace=ws, **kw)  # type: ignore[arg-type]
    return await send_campaign(plan, client, progress=False)


def summary_of(path: Path) -> dict[object, object]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = book["Summary"].iter_rows(values_only=True)
        return {r[0]: r[1] for r in rows if r and r[0] is not None and len(r) > 1}
    finally:
        book.close()


def sheet_rows(path: Path, title: str) -> list[dict[str, object]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(book[title].iter_rows(values_only=True))
    finally:
        book.close()
    header = [str(h) for h in rows[0]]
    # read-only rows end at their last non-empty cell
    return [
        dict(zip(header, [*r, *[None] * (len(header) - len(r))], strict=True)) for r in rows[1:]
    ]


async def test_report_counts_and_lists_each_workspace_exclusion(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path / "ws.sqlite")
    ws.add_optouts(["+91 98 0000 0001"], source="crm-export")
    await sent(ws, client, [2], "Spring sale, {name}")  # 2 got this very message
    await sent(ws, client, [4], "News for {name}")  # 4 got two other messages today
    await sent(ws, client, [4], "News for {name}", repeat_guard=None)
    result = await sent(ws, client, list(range(8)), "Spring sale, {name}", frequency_cap="2/24h")
    states = result.frame[result.columns.state]
    assert states[1] == "skipped_opted_out"
    assert states[2] == "skipped_already_sent"
    assert states[4] == "skipped_frequency_cap"

    path = write_report(result, tmp_path / "report.xlsx")
    summary = summary_of(path)
    assert summary["Opted out (workspace)"] == 1
    assert summary["Over the frequency cap"] == 1
    assert summary["Already sent this content (repeat guard)"] == 1
    assert summary["Excluded in all"] == 3
    assert summary["Rows"] == 8
    excluded = sheet_rows(path, "Excluded")
    assert [(r["phone"], r["name"], r["state"]) for r in excluded] == [
        ("+91 9800000001", "Cust1", "skipped_opted_out"),
        ("+91 9800000002", "Cust2", "skipped_already_sent"),
        ("+91 9800000004", "Cust4", "skipped_frequency_cap"),
    ]
    reasons = [str(r["reason"]) for r in excluded]
    assert "crm-export" in reasons[0]
    assert "2/24h" in reasons[2]
    assert all(reasons)
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        assert book.sheetnames[:4] == ["Summary", "Recipients", "Failures", "Excluded"]
    finally:
        book.close()


async def test_a_report_without_exclusions_has_no_excluded_sheet(
    client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(people([0, 1]), "phone", "Hello {name}")
    result = await send_campaign(plan, client, progress=False)
    path = write_report(result, tmp_path / "plain.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        assert "Excluded" not in book.sheetnames
    finally:
        book.close()
    assert "Opted out (workspace)" not in summary_of(path)
