"""The workspace's rules, each against both backends (SQLite file, PostgreSQL schema).

Replies, delivery and sent records come from the sandbox over loopback; campaigns are really
sent to it, so the history holds what the provider accepted.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.client import AsyncClient
from itnio_campaign.errors import ItnioError, UsageError
from itnio_campaign.plan import plan_campaign
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import Sandbox
from itnio_campaign.workspace import Keywords, Workspace, WorkspaceError

pytest_plugins = ("workspace_fixtures",)  # ws_location: both backends; pg_schema_url

A, B, C = "919800000001", "919800000002", "919800000003"


def contacts(*numbers: str) -> pd.DataFrame:
    return pd.DataFrame({"phone": list(numbers), "name": [f"N{i}" for i in range(len(numbers))]})


def states(plan_or_result: object) -> list[str]:
    frame = getattr(plan_or_result, "recipients", None)
    if frame is None:
        frame = plan_or_result.frame  # type: ignore[attr-defined]
    return [str(s) for s in frame["state"]]


async def sent(ws: Workspace, client: AsyncClient, df: pd.DataFrame, content: str, **kw: object):
    """Plan with the workspace and send (no ledger): the campaign is recorded."""
    plan = plan_campaign(df, content=content, workspace=ws, **kw)  # type: ignore[arg-type]
    return await send_campaign(plan, client, progress=False)


# -- opt-outs ------------------------------------------------------------------------------
def test_an_optout_in_any_written_form_is_one_person(ws_location: str) -> None:
    with Workspace(ws_location) as ws:
        assert ws.add_optouts(["+91 98000 00001", "919800000001", "98000-00002"]) == 2
        assert ws.add_optouts("919800000002", source="crm-export") == 0  # already there
        assert ws.is_opted_out("+91 98000 00001") and ws.is_opted_out("9800000002")
        assert not ws.is_opted_out(C)
        frame = ws.optouts()
        assert list(frame.columns) == ["number", "source", "reason", "opted_out_at"]
        assert sorted(frame["number"]) == [A, B]
        assert set(frame["source"]) == {"manual"}  # the first source is kept
        assert ws.remove_optouts("+91 98000 00001") == 1 and ws.remove([A]) == 0
        assert not ws.is_opted_out(A)


def test_optouts_import_from_a_csv_file(ws_location: str, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("phone\n+91 98000 00001\nn/a\n98000 00003\n", encoding="utf-8")
    with Workspace(ws_location) as ws:
        assert ws.add_optouts(path, source="crm-export") == 2
        assert dict(zip(ws.optouts()["number"], ws.optouts()["source"], strict=True)) == {
            A: "crm-export",
            C: "crm-export",
        }


def test_bad_optout_input_is_one_clear_error(ws_location: str) -> None:
    with Workspace(ws_location) as ws:
        with pytest.raises(UsageError, match="no such file"):
            ws.add_optouts("optouts_2024")
        with pytest.raises(UsageError, match="source"):
            ws.add_optouts(A, source="")
        with pytest.raises(UsageError, match="opt_out"):
            ws.resolve_review(1, "maybe")  # type: ignore[arg-type]


def test_plan_skips_opted_out_numbers_naming_the_source(ws_location: str) -> None:
    with Workspace(ws_location) as ws:
        ws.add_optouts("+91 98000 00002", source="crm-export")
        plan = plan_campaign(contacts(A, B, C), content="Hi {name}", workspace=ws)
    assert states(plan) == ["ready", "skipped_opted_out", "ready"]
    assert plan.recipients["reason"].iloc[1].startswith("opted out (crm-export, ")
    assert [n for b in plan.batches for n in b.numbers] == [A, C]
    summary = plan.summary()
    assert summary.workspace_opted_out == 1
    assert "1 opted out (workspace), 0 over the frequency cap, 0 already sent" in str(summary)
    assert plan.settings["workspace"] == Workspace(ws_location).location


def test_plan_by_location_string_and_without_workspace(ws_location: str) -> None:
    Workspace(ws_location).add_optouts(A)
    plan = plan_campaign(contacts(A, B), content="Hi", workspace=ws_location)
    assert states(plan) == ["skipped_opted_out", "ready"]
    plain = plan_campaign(contacts(A, B), content="Hi")
    assert states(plain) == ["ready", "ready"] and "workspace" not in plain.settings
    assert "workspace" not in str(plain.summary())


def test_a_frequency_cap_needs_a_workspace_and_a_valid_rule(ws_location: str) -> None:
    with pytest.raises(UsageError, match="needs a workspace"):
        plan_campaign(contacts(A), content="Hi", frequency_cap="1/24h")
    for bad in ("1/24", "x/24h", "0/1d", "1/24h,"):
        with pytest.raises(UsageError, match="frequency_cap"):
            plan_campaign(contacts(A), content="Hi", workspace=ws_location, frequency_cap=bad)
    with pytest.raises(UsageError, match="repeat_guard"):
        plan_campaign(contacts(A), content="Hi", workspace=ws_location, repeat_guard="soon")


# -- replies -----------------------------------------------------------------------------
async def test_sync_replies_applies_keywords_reviews_sentences_and_is_idempotent(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    now = sb.knobs.clock()
    sb.add_reply(A, " Stop. ", at=now - 300)
    sb.add_reply(B, "please stop sending me this bill", at=now - 200)
    sb.add_reply(C, "thanks, see you", at=now - 100)
    with Workspace(ws_location) as ws:
        first = await ws.sync_replies(client)
        assert (first.fetched, first.opted_out, first.opted_in, first.to_review) == (3, 1, 0, 1)
        assert "3 fetched" in str(first) and "\n" not in str(first)
        again = await ws.sync_replies(client)
        assert (again.opted_out, again.to_review, again.seen_before) == (0, 0, again.fetched)
        assert ws.optouts()["number"].tolist() == [A]
        assert ws.optouts()["source"].tolist() == ["reply"]
        review = ws.optout_review()
        assert list(review.columns) == ["id", "number", "text", "received_at", "keyword"]
        assert review[["number", "keyword"]].values.tolist() == [[B, "STOP"]]
        # the dry run says how many await review
        plan = plan_campaign(contacts(A, B, C), content="Hi", workspace=ws)
        assert states(plan) == ["skipped_opted_out", "ready", "ready"]
        assert "1 reply awaits review" in str(plan.summary())


async def test_start_opts_back_in_after_stop(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    now = sb.knobs.clock()
    sb.add_reply(A, "STOP", at=now - 60)
    with Workspace(ws_location) as ws:
        assert (await ws.sync_replies(client)).opted_out == 1
        sb.add_reply(A, "start", at=now - 30)
        report = await ws.sync_replies(client)
        assert (report.opted_in, report.seen_before) == (1, 1)
        assert not ws.is_opted_out(A)


async def test_language_keywords_opt_out_when_configured(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    now = sb.knobs.clock()
    sb.add_reply(A, "Arrêt", at=now - 20)
    sb.add_reply(B, "BAJA", at=now - 10)
    sb.add_reply(C, "no baja, gracias", at=now - 5)
    assert Keywords().classify("Arrêt") == ""  # not a standard word
    with Workspace(ws_location, keywords=Keywords.for_languages("fr", "es")) as ws:
        report = await ws.sync_replies(client)
        assert (report.opted_out, report.to_review) == (2, 1)
        assert sorted(ws.optouts()["number"]) == [A, B]
        assert ws.optout_review()["keyword"].tolist() == ["BAJA"]


async def test_resolving_the_review_list(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    now = sb.knobs.clock()
    sb.add_reply(A, "Please STOP texting me", at=now - 20)
    sb.add_reply(B, "end of season sale? cancel my order", at=now - 10)
    with Workspace(ws_location) as ws:
        await ws.sync_replies(client)
        review = ws.optout_review()
        ids = dict(zip(review["number"], review["id"], strict=True))
        ws.resolve_review(ids[A], "opt_out")
        ws.resolve_review(ids[B], "dismiss")
        assert ws.optout_review().empty
        assert ws.is_opted_out(A) and not ws.is_opted_out(B)
        assert ws.optouts()["source"].tolist() == ["reply (reviewed)"]
        with pytest.raises(UsageError, match="awaits review"):
            ws.resolve_review(ids[A], "dismiss")


# -- history, caps, repeat guard ---------------------------------------------------------
async def test_history_and_campaigns_record_each_send(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    with Workspace(ws_location) as ws:
        result = await sent(ws, client, contacts(A, B), "Hi {name}")
        assert result.status == "completed"
        campaigns = ws.campaigns()
        assert len(campaigns) == 1
        row = campaigns.iloc[0]
        assert (row["recipients"], row["sent"], row["fingerprint"]) == (
            2,
            2,
            result.plan.fingerprint,
        )
        history = ws.history("+91 98000 00001")
        assert list(history.columns) == [
            "number",
            "campaign",
            "content_hash",
            "sent_at",
            "state",
            "msg_id",
        ]
        assert history["number"].tolist() == [A]
        assert history["state"].tolist() == ["submitted"]
        assert history["msg_id"].tolist() == [result.frame["msg_id"].iloc[0]]
        assert ws.history(C).empty


async def test_repeat_guard_skips_the_same_content_not_another(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    with Workspace(ws_location) as ws:
        await sent(ws, client, contacts(A, B), "Spring sale {name}")
        again = plan_campaign(contacts(A, B, C), content="Spring sale {name}", workspace=ws)
        assert states(again) == ["skipped_already_sent", "skipped_already_sent", "ready"]
        assert "(repeat_guard 7d)" in again.recipients["reason"].iloc[0]
        assert again.summary().workspace_already_sent == 2
        other = plan_campaign(contacts(A, B), content="Summer sale {name}", workspace=ws)
        assert states(other) == ["ready", "ready"]
        off = plan_campaign(contacts(A, B), content="Spring sale {name}", workspace=ws,
                            repeat_guard="off")  # fmt: skip
        assert states(off) == ["ready", "ready"]


async def test_frequency_cap_skips_recipients_over_a_rule(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    with Workspace(ws_location) as ws:
        await sent(ws, client, contacts(A, B), "One")
        await sent(ws, client, contacts(A), "Two")
        plan = plan_campaign(contacts(A, B, C), content="Three", workspace=ws,
                             frequency_cap="2/24h,3/30d")  # fmt: skip
        assert states(plan) == ["skipped_frequency_cap", "ready", "ready"]
        assert plan.recipients["reason"].iloc[0] == ("frequency cap 2/24h: 2 SMS in the last 24h")
        one = plan_campaign(contacts(A, B, C), content="Three", workspace=ws,
                            frequency_cap="1/24h")  # fmt: skip
        assert states(one) == ["skipped_frequency_cap", "skipped_frequency_cap", "ready"]
        summary = one.summary()
        assert summary.workspace_capped == 2
        assert ("skipped_frequency_cap", "frequency cap 1/24h") in summary.skipped
        assert one.settings["frequency_cap"] == "1/24h"


def test_exclusions_are_vectorised_and_aligned(ws_location: str) -> None:
    with Workspace(ws_location) as ws:
        ws.add_optouts([B])
        numbers = pd.Series([A, B, None, C], index=["w", "x", "y", "z"], dtype=object)
        found = ws.exclusions(numbers, pd.Series(["a", "b", None, "c"], index=numbers.index))
        assert found.index.tolist() == ["w", "x", "y", "z"]
        assert found["state"].tolist() == [None, "skipped_opted_out", None, None]


async def test_recording_again_updates_states_and_is_idempotent(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    from itnio_campaign.delivery import refresh_delivery

    with Workspace(ws_location) as ws:
        result = await sent(ws, client, contacts(A, B), "Hi")
        sb.settle_all()
        result = await refresh_delivery(result, client)
        ws.record_campaign(result)
        ws.record_campaign(result)
        assert len(ws.campaigns()) == 1
        history = pd.concat([ws.history(A), ws.history(B)])
        assert len(history) == 2
        assert set(history["state"]) <= {"delivered", "undelivered"}
        assert ws.campaigns()["delivered"].iloc[0] == (history["state"] == "delivered").sum()


async def test_sync_delivery_updates_the_history(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    with Workspace(ws_location) as ws:
        await sent(ws, client, contacts(A, B, C), "Hi")
        sb.settle_all()
        report = await ws.sync(client)
        assert report.delivery_updated == 3
        assert "delivery: 3 updated" in str(report)
        assert {ws.history(n)["state"].iloc[0] for n in (A, B, C)} <= {"delivered", "undelivered"}
        assert await ws.sync_delivery(client) == 0  # final states are not asked again


async def test_import_sent_records_backfills_portal_sends_once(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    await client.send_sms([A, B], "sent from the portal")  # outside the toolkit
    with Workspace(ws_location) as ws:
        await sent(ws, client, contacts(C), "Hi")  # recorded by the toolkit
        assert await ws.import_sent_records(client, days=1) == 2
        assert await ws.import_sent_records(client, days=1) == 0
        assert ws.history(A)["campaign"].tolist() == ["sent outside the toolkit (getSentRcd)"]
        assert len(ws.history(C)) == 1  # not counted twice
        plan = plan_campaign(contacts(A, C), content="New", workspace=ws, frequency_cap="1/24h")
        assert states(plan) == ["skipped_frequency_cap", "skipped_frequency_cap"]


# -- locations and bad input -------------------------------------------------------------
def test_default_location_is_env_then_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ITNIO_WORKSPACE", raising=False)
    with Workspace() as ws:
        assert ws.location == str(tmp_path / "itnio-workspace.sqlite")
    monkeypatch.setenv("ITNIO_WORKSPACE", str(tmp_path / "team.sqlite"))
    with Workspace() as ws:
        assert ws.location == str(tmp_path / "team.sqlite")
    assert (tmp_path / "team.sqlite").is_file()


def test_a_corrupt_or_foreign_file_is_refused_with_advice(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(WorkspaceError, match="not an itnio workspace"):
        Workspace(junk)
    ledger_like = tmp_path / "campaign.sqlite"
    with sqlite3.connect(ledger_like) as conn:
        conn.execute("CREATE TABLE journal(seq INTEGER)")
    with pytest.raises(WorkspaceError, match=r"another kind.*give another path"):
        Workspace(ledger_like)
    assert junk.read_bytes().startswith(b"this is not")  # left untouched
    with pytest.raises(WorkspaceError, match="is a folder"):
        Workspace(tmp_path)


def test_another_schema_version_is_refused(ws_location: str) -> None:
    ws = Workspace(ws_location)
    with ws._db.transaction() as cur:
        cur.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    ws.close()
    with pytest.raises(WorkspaceError, match=r"schema version 99.*upgrade"):
        Workspace(ws_location)
    assert issubclass(WorkspaceError, ItnioError)


def test_unreachable_postgres_is_one_clear_error_without_the_password() -> None:
    url = "postgresql://itnio:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(WorkspaceError) as info:
        Workspace(url)
    text = str(info.value)
    assert "cannot reach the PostgreSQL workspace" in text and "s3cret-pw" not in text
    assert "postgresql://itnio:***@127.0.0.1:1/nowhere" in text
    with pytest.raises(WorkspaceError):
        plan_campaign(contacts(A), content="Hi", workspace=url)


def test_repr_and_settings_never_show_the_password(pg_schema_url: str) -> None:
    assert ":" in pg_schema_url.split("@")[0].removeprefix("postgresql://")
    password = pg_schema_url.split("@")[0].rsplit(":", 1)[1]
    with Workspace(pg_schema_url) as ws:
        secret = f":{password}@"
        assert secret not in repr(ws) and ":***@" in ws.location
        plan = plan_campaign(contacts(A), content="Hi", workspace=ws)
        assert secret not in str(plan.settings) and ":***@" in plan.settings["workspace"]
        assert secret not in str(plan.summary())


def test_sync_window_starts_before_the_newest_reply_seen() -> None:
    from itnio_campaign.models import Reply

    ws = Workspace(":memory:")
    at = datetime.now(UTC) - timedelta(hours=2)
    report = ws.apply_replies([Reply(A, "", at, "STOP"), Reply(A, "", at, "STOP")])
    assert (report.fetched, report.opted_out, report.seen_before) == (2, 1, 1)
    assert float(ws._meta("mo_high_water") or 0) == pytest.approx(at.timestamp())


def test_reply_languages_are_stored_for_everyone_using_the_workspace(ws_location: str) -> None:
    from itnio_campaign.models import Reply

    with Workspace(ws_location) as first:
        assert first.reply_languages == () and first.keywords.classify("arrêt") == ""
        first.set_reply_languages("fr", "ES")
    with Workspace(ws_location) as second:  # another analyst, another process later
        assert second.reply_languages == ("fr", "es")
        report = second.apply_replies([Reply(A, "", None, "ARRET"), Reply(B, "", None, "baja")])
        assert report.opted_out == 2
    with Workspace(ws_location, keywords=Keywords()) as english:  # explicit: this session only
        assert english.keywords.classify("arret") == "" and english.reply_languages == ("fr", "es")


def test_a_new_language_applies_replies_synced_before_unless_the_number_decided_since(
    ws_location: str,
) -> None:
    from itnio_campaign.models import Reply

    t = datetime(2026, 11, 1, tzinfo=UTC)
    ws = Workspace(ws_location)
    ws.apply_replies(
        [
            Reply(A, "", t, "ARRET"),  # meant nothing in English
            Reply(B, "", t, "Arrêt"),
            Reply(B, "", t + timedelta(hours=1), "START"),  # ...but B opted in after it
            Reply(C, "", t, "merci d'arrêter les messages"),  # a keyword inside a sentence
        ]
    )
    assert ws.optouts().empty and ws.optout_review().empty
    report = ws.set_reply_languages("fr")
    assert (report.fetched, report.opted_out, report.opted_in, report.to_review) == (4, 1, 0, 1)
    assert ws.optouts()["number"].tolist() == [A]
    assert ws.optout_review()["number"].tolist() == [C]
    again = ws.set_reply_languages("fr")  # read again: nothing new to do
    assert (again.opted_out, again.to_review) == (0, 0)
    with pytest.raises(UsageError, match="no keyword list"):
        ws.set_reply_languages("klingon")
    assert ws.reply_languages == ("fr",)
    ws.close()


def test_a_reply_language_this_version_does_not_know_is_refused_with_advice(
    ws_location: str,
) -> None:
    ws = Workspace(ws_location)  # as a newer release with one language more would leave it
    with ws._db.transaction() as cur:
        ws._set_meta(cur, "reply_languages", "fr,tlh")
    ws.close()
    with pytest.raises(WorkspaceError, match=r"reply keywords in tlh.*upgrade"):
        Workspace(ws_location)
    with Workspace(ws_location, keywords=Keywords()) as explicit:  # told which words: opens
        assert explicit.reply_languages == ("fr", "tlh")
