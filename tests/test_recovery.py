"""Resume, reconcile and reload against the sandbox (which keeps its own record of accepts)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.client import AsyncClient
from itnio_campaign.errors import LedgerError, UsageError
from itnio_campaign.ledger import Ledger
from itnio_campaign.models import DeliveryRecord
from itnio_campaign.plan import Plan, plan_campaign
from itnio_campaign.recovery import (
    ReconcileReport,
    load_campaign,
    reconcile_campaign,
    resume_campaign,
)
from itnio_campaign.result import Stopper
from itnio_campaign.runner import ProgressEvent, send_campaign
from itnio_campaign.sandbox import Sandbox


def contacts(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone": [f"+91 98{i:08d}" for i in range(start, start + n)],
            "name": [f"Name{i % 97}" for i in range(start, start + n)],
            "tier": pd.Categorical(["gold", "silver"] * (n // 2)),
        },
        index=pd.RangeIndex(100, 100 + n, name="row"),
    )


def make_plan(n: int = 3000, start: int = 0) -> Plan:
    return plan_campaign(contacts(n, start), number_col="phone", content="Hi {name}, 10% off")


def order_ids(plan: Plan) -> list[str]:
    rec = plan.recipients
    return rec["order_id"][(rec["state"] == "ready").to_numpy()].tolist()


def assert_each_accepted_once(sb: Sandbox, plan: Plan) -> None:
    counts = sb.accept_counts()
    assert max(counts.values()) == 1, "an orderId was accepted twice"
    assert [counts[o] for o in order_ids(plan)] == [1] * len(order_ids(plan))


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "spring-promo.sqlite"


@pytest.fixture
async def sb_factory() -> AsyncIterator[list[Sandbox]]:
    started: list[Sandbox] = []
    yield started
    for s in started:
        await s.stop()


# -- a clean campaign ------------------------------------------------------------------------
async def test_loaded_result_equals_returned(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    plan = make_plan()
    result = await send_campaign(plan, client, ledger=ledger_path, progress=False)
    assert result.status == "completed"
    loaded = load_campaign(ledger_path)
    pd.testing.assert_frame_equal(loaded.frame, result.frame)
    assert loaded.status == "completed" and loaded.plan.fingerprint == plan.fingerprint
    pd.testing.assert_frame_equal(loaded.plan.source, plan.source)
    assert loaded.summary().counts == {"submitted": 3000}
    assert_each_accepted_once(sb, plan)


async def test_ledger_file_holds_no_secret(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    await send_campaign(make_plan(1000), client, ledger=ledger_path, progress=False)
    with Ledger.open(ledger_path, readonly=True) as ledger:
        assert ledger.settings["app_id"] == sb.credentials.app_id  # settings are there
    blob = b"".join(p.read_bytes() for p in ledger_path.parent.iterdir() if p.is_file())
    assert sb.credentials.api_secret.encode() not in blob
    assert sb.credentials.api_key.encode() not in blob


async def test_rerun_same_plan_resumes_and_sends_nothing_new(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    plan = make_plan()
    await send_campaign(plan, client, ledger=ledger_path, progress=False)
    requests = len(sb.requests)
    again = await send_campaign(make_plan(), client, ledger=ledger_path, progress=False)
    assert len(sb.requests) == requests
    assert again.summary().counts == {"submitted": 3000}
    assert_each_accepted_once(sb, plan)


async def test_other_plan_on_same_ledger_is_refused(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    await send_campaign(make_plan(1000), client, ledger=ledger_path, progress=False)
    requests = len(sb.requests)
    with pytest.raises(UsageError, match="another campaign"):
        await send_campaign(make_plan(1000, start=5000), client, ledger=ledger_path)
    assert len(sb.requests) == requests
    assert load_campaign(ledger_path).plan.fingerprint == make_plan(1000).fingerprint


# -- stop, halt, resume ---------------------------------------------------------------------
async def test_stop_then_resume_sends_the_rest_once(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    plan = make_plan(6000)
    stopper = Stopper()

    def stop_early(event: ProgressEvent) -> None:
        if event.requests >= 2:
            stopper.stop()

    first = await send_campaign(
        plan, client, concurrency=1, ledger=ledger_path, progress=False,
        on_progress=stop_early, stopper=stopper,
    )  # fmt: skip
    assert first.status == "stopped"
    assert load_campaign(ledger_path).status == "stopped"
    assert first.summary().counts == {"pending": 4000, "submitted": 2000}
    resumed = await resume_campaign(ledger_path, client, progress=False)
    assert resumed.status == "completed"
    assert resumed.summary().counts == {"submitted": 6000}
    assert_each_accepted_once(sb, plan)
    pd.testing.assert_frame_equal(load_campaign(ledger_path).frame, resumed.frame)


async def test_balance_exhausted_halts_then_resume_after_top_up(
    ledger_path: Path, sb_factory: list[Sandbox]
) -> None:
    sb = await Sandbox(balance=Decimal("12.5"), price_per_segment=Decimal("0.005")).start()
    sb_factory.append(sb)
    plan = make_plan(5000)  # 25.00 worth: the balance runs out half-way
    async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
        first = await send_campaign(plan, client, concurrency=1, ledger=ledger_path, progress=False)
        assert first.status == "halted" and "balance" in (first.halt_reason or "")
        loaded = load_campaign(ledger_path)
        assert (loaded.status, loaded.halt_reason) == ("halted", first.halt_reason)
        assert loaded.summary().counts == {"pending": 3000, "submitted": 2000}
        sb.balance = Decimal("100")
        resumed = await resume_campaign(ledger_path, client, progress=False)
    assert resumed.status == "completed" and resumed.halt_reason is None
    assert_each_accepted_once(sb, plan)


# -- unknown → reconcile → missing → resend once -------------------------------------------
async def test_unknown_requests_are_reconciled_and_missing_resent_once(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    plan = make_plan(4000)
    # request 1 is accepted but its answer lost; request 2 fails with HTTP 500 (not accepted)
    sb.inject("sendSms/batch", "none", "drop_after_accept", "http_500")
    first = await send_campaign(plan, client, concurrency=1, ledger=ledger_path, progress=False)
    assert first.summary().counts == {"submitted": 2000, "unknown": 2000}
    resumed = await resume_campaign(ledger_path, client, progress=False)  # never resends unknown
    assert resumed.summary().counts == {"submitted": 2000, "unknown": 2000}
    assert len(sb.requests) == 4

    report = await reconcile_campaign(ledger_path, client, min_age_s=0)
    assert (report.found, report.missing, report.still_unknown) == (1000, 1000, 0)
    assert "1,000 missing" in str(report) and "resend_missing=True" in str(report)
    loaded = load_campaign(ledger_path)
    assert loaded.summary().counts == {"submitted": 3000, "missing": 1000}
    found = loaded.frame[loaded.frame["batch"] == 1]
    assert found["msg_id"].notna().all()  # found rows carry their msgIds

    plain = await resume_campaign(ledger_path, client, progress=False)  # missing: not resent
    assert plain.summary().counts == {"submitted": 3000, "missing": 1000}
    resent = await resume_campaign(ledger_path, client, resend_missing=True, progress=False)
    assert resent.summary().counts == {"submitted": 4000}
    assert_each_accepted_once(sb, plan)
    requests = len(sb.requests)
    again = await resume_campaign(ledger_path, client, resend_missing=True, progress=False)
    assert len(sb.requests) == requests
    assert again.summary().counts == {"submitted": 4000}
    pd.testing.assert_frame_equal(load_campaign(ledger_path).frame, again.frame)


async def test_reconcile_without_unknowns_asks_nothing(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    await send_campaign(make_plan(1000), client, ledger=ledger_path, progress=False)
    requests = len(sb.requests)
    report = await reconcile_campaign(ledger_path, client)
    assert report == ReconcileReport(0, 0, 0)
    assert len(sb.requests) == requests


async def test_young_requests_stay_unknown(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    sb.inject("sendSms/batch", "http_500")
    await send_campaign(make_plan(1000), client, ledger=ledger_path, progress=False)
    report = await reconcile_campaign(ledger_path, client, min_age_s=3600)
    assert (report.found, report.missing, report.still_unknown) == (0, 0, 1000)
    assert "run reconcile again later" in str(report)
    assert load_campaign(ledger_path).summary().counts == {"unknown": 1000}


async def test_in_flight_rows_become_unknown_and_reconcile_finds_them(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    """A request journaled in flight whose process died: accepted at the provider."""
    plan = make_plan(2000)
    batch = plan.batches[0]
    with Ledger.open(ledger_path) as ledger:
        ledger.start(plan, {})
        ledger.begin(batch, datetime.now(UTC).timestamp())
        item = batch.items
        await client.send_sms_batch(item)  # it left; then "the process died"
    assert load_campaign(ledger_path).summary().counts == {"unknown": 1000, "pending": 1000}
    resumed = await resume_campaign(ledger_path, client, progress=False)
    assert resumed.summary().counts == {"unknown": 1000, "submitted": 1000}
    report = await reconcile_campaign(ledger_path, client, min_age_s=0)
    assert (report.found, report.missing) == (1000, 0)
    await resume_campaign(ledger_path, client, resend_missing=True, progress=False)
    assert_each_accepted_once(sb, plan)


# -- delivery state and odd files --------------------------------------------------------------
async def test_delivery_records_survive_reopening(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    result = await send_campaign(make_plan(1000), client, ledger=ledger_path, progress=False)
    ids = result.pending_delivery_ids()[:3]
    when = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    records = [DeliveryRecord(m, "", "delivered", when, "0") for m in ids]
    with Ledger.open(ledger_path) as ledger:
        ledger.record_delivery(records)
    loaded = load_campaign(ledger_path)
    assert loaded.summary().counts == {"submitted": 997, "delivered": 3}
    assert (loaded.frame["delivered_at"].dropna() == pd.Timestamp(when)).all()


async def test_resume_of_a_foreign_file_is_refused_untouched(
    client: AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts(phone TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="another application"):
        await resume_campaign(path, client)
    with pytest.raises(LedgerError):
        await send_campaign(make_plan(100), client, ledger=path)
    with pytest.raises(LedgerError):
        load_campaign(path)
    assert path.read_bytes() == before


async def test_load_while_another_writer_holds_it(
    sb: Sandbox, client: AsyncClient, ledger_path: Path
) -> None:
    plan = make_plan(1000)
    await send_campaign(plan, client, ledger=ledger_path, progress=False)
    with Ledger.open(ledger_path) as writer:
        writer.mark_running(1.0)
        assert load_campaign(ledger_path).status == "running"  # its writer is alive
        with pytest.raises(LedgerError, match="in use"):
            await resume_campaign(ledger_path, client)
    # Left "running" with nobody holding it: the sender died.
    crashed = load_campaign(ledger_path)
    assert crashed.status == "stopped" and "ended unexpectedly" in (crashed.halt_reason or "")
