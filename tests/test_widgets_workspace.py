"""The form's Workspace section (issue 13), driven as a user would: set values, click, read.

Sends go to a real sandbox on loopback; the workspace is a real SQLite file in the test's
folder (never the default one in the current directory).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_widgets import accepted_numbers, api, contacts, dry_run, make_form, text

from itnio_campaign.client import AsyncClient
from itnio_campaign.sandbox import Sandbox
from itnio_campaign.widgets import CampaignForm, default_workspace_location
from itnio_campaign.workspace import Workspace

CONTENT = "Hi {name}, 20% off at {store}"


def workspace_form(sb: Sandbox | None, tmp_path: Path, **kw: object) -> CampaignForm:
    form = make_form(contacts(), sb, tmp_path, workspace=tmp_path / "ws.sqlite", **kw)
    form.content.value = CONTENT
    return form


async def send(form: CampaignForm) -> None:
    await dry_run(form)
    form.confirm.value = True
    form.send_button.click()
    assert form.sending_task is not None, text(form.errors.value)
    await form.sending_task


def skipped_states(form: CampaignForm) -> pd.Series:
    rec = form.plan.recipients
    return rec["state"][rec["state"].str.startswith("skipped")]


def test_the_location_field_shows_the_default_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ITNIO_WORKSPACE", raising=False)
    form = make_form(contacts(), None, tmp_path)
    assert form.workspace_location.value == "itnio-workspace.sqlite"
    assert form.no_workspace.value is False
    team = "postgresql://analyst@127.0.0.1/itnio_team"
    monkeypatch.setenv("ITNIO_WORKSPACE", team)
    assert default_workspace_location() == team
    assert make_form(contacts(), None, tmp_path).workspace_location.value == team
    off = make_form(contacts(), None, tmp_path, workspace=None)
    assert off.no_workspace.value is True and off.workspace_location.disabled


async def test_dry_run_says_what_the_workspace_excluded_and_what_awaits_review(
    sb: Sandbox, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path / "ws.sqlite")
    assert ws.add_optouts(["+91 98 0000 0001"], source="crm-export") == 1
    sb.add_reply(api(3), "please stop sending me this bill")
    async with AsyncClient(sb.credentials) as client:
        await ws.sync_replies(client)
    form = workspace_form(sb, tmp_path)
    await dry_run(form)
    summary = text(form.summary.value)
    assert "1 opted out (workspace), 0 over the frequency cap, 0 already sent this content" in (
        summary
    )
    assert "1 reply awaits review" in summary
    note = text(form.workspace_note.value)
    assert str(tmp_path / "ws.sqlite") in note and "1 reply awaits review" in note
    assert skipped_states(form).tolist() == ["skipped_opted_out"]
    assert "skipped_opted_out" in text(form.skipped.value)
    assert "crm-export" in form.plan.recipients.loc[1, "reason"]
    assert not form.confirm.disabled  # the other 4 may be sent


async def test_no_workspace_tick_invalidates_and_plans_without_it(
    sb: Sandbox, tmp_path: Path
) -> None:
    Workspace(tmp_path / "ws.sqlite").add_optouts(["919800000000"])
    form = workspace_form(sb, tmp_path)
    await dry_run(form)
    assert int(form.gate.ready) == 4
    form.no_workspace.value = True
    assert form.confirm.disabled and form.send_button.disabled  # the dry run no longer counts
    assert form.workspace_location.disabled and form.frequency_cap.disabled
    await dry_run(form)
    assert "No workspace" in text(form.workspace_note.value)
    assert "opted out (workspace)" not in text(form.summary.value)
    assert int(form.gate.ready) == 5 and skipped_states(form).empty


async def test_a_form_send_is_remembered_by_the_repeat_guard_and_the_cap(
    sb: Sandbox, tmp_path: Path
) -> None:
    form = workspace_form(sb, tmp_path)
    await send(form)
    assert form.result is not None and form.result.status == "completed"
    # The form closed the workspace after recording the send: no SQLite companions are left.
    assert sorted(p.name for p in tmp_path.glob("ws.sqlite*")) == ["ws.sqlite"]
    assert sum(accepted_numbers(sb).values()) == 5
    with Workspace(tmp_path / "ws.sqlite") as ws:
        assert len(ws.campaigns()) == 1 and len(ws.history(api(0))) == 1
    # The same plan in the same form continues its campaign (the ledger knows: nobody left)...
    await dry_run(form)
    assert form.confirm.description == "Send the 0 not sent yet" and form.confirm.disabled
    # ... while the same message from another ledger folder is yesterday's file re-run: the
    # repeat guard skips everyone.
    other = make_form(contacts(), sb, tmp_path / "elsewhere", workspace=tmp_path / "ws.sqlite")
    other.content.value = CONTENT
    await dry_run(other)
    summary = text(other.summary.value)
    assert "0 opted out (workspace), 0 over the frequency cap, 5 already sent this content" in (
        summary
    )
    assert other.confirm.disabled  # nobody to send
    # The override, typed in the form, lets it through.
    other.repeat_guard.value = "off"
    await dry_run(other)
    assert int(other.gate.ready) == 5 and not other.confirm.disabled
    # Another message with a cap of one a day: everyone is over the cap.
    form.repeat_guard.value = ""
    form.content.value = "News for {name}"
    form.frequency_cap.value = "1/24h"
    await dry_run(form)
    assert "5 over the frequency cap" in text(form.summary.value)
    assert set(skipped_states(form)) == {"skipped_frequency_cap"}
    assert sum(accepted_numbers(sb).values()) == 5  # nothing more was sent


async def test_bad_workspace_settings_are_errors_in_the_form(sb: Sandbox, tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a database at all\n" * 200)
    form = make_form(contacts(), sb, tmp_path, workspace=broken)
    form.content.value = CONTENT
    await dry_run(form)
    assert form.plan is None and form.confirm.disabled
    assert "Dry run failed" in text(form.errors.value)
    assert "Traceback" not in form.errors.value
    form.workspace_location.value = str(tmp_path / "good.sqlite")
    form.frequency_cap.value = "often"
    await dry_run(form)
    assert form.plan is None and "often" in text(form.errors.value)
    form.frequency_cap.value = ""
    form.workspace_location.value = ""
    await dry_run(form)
    assert form.plan is None and "No workspace" in text(form.errors.value)
    form.workspace_location.value = str(tmp_path / "good.sqlite")
    await dry_run(form)
    assert form.plan is not None and text(form.errors.value).strip() == ""
    assert len(sb.accepted) == 0  # a dry run sends nothing
