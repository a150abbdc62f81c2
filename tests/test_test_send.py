"""Test sends to staff phones, against the sandbox on loopback, on an injected clock."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_trial import FAST, QUIET, FakeTime

from itnio_campaign.client import AsyncClient
from itnio_campaign.errors import UsageError
from itnio_campaign.ledger import Ledger
from itnio_campaign.plan import Plan, plan_campaign
from itnio_campaign.recovery import load_campaign
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import Sandbox
from itnio_campaign.testsend import representative_rows, send_test
from itnio_campaign.trial_store import list_test_sends

SEEDS = ["+91 90000 00001", "+91 90000 00002"]


def offer_plan() -> Plan:
    df = pd.DataFrame(
        {
            "phone": ["+91 98000 00001", "+91 98000 00002", "+44 7911 000003", "+91 98000 00004"],
            "name": ["Asha", "Ravi", "Ann", "Zoë"],
            "offer": ["flash sale", "10% off", "10% off " + "very long text " * 12, "5% off"],
            "note": ["vip", "vip", "vip", ""],  # an optional column, empty for Zoë
        },
        index=pd.Index(["c1", "c2", "c3", "c4"], name="customer"),
    )
    return plan_campaign(df, content="Hi {name}: {offer}")


def test_representatives_cover_length_contents_countries_encodings_and_blanks() -> None:
    picks = representative_rows(offer_plan())
    why = {p: "; ".join(w) for p, w in picks.items()}
    assert "longest message" in why[2]
    assert "country +44, GSM-7" in why[2]
    assert "country +91, UCS-2" in why[3]  # Zoë: not GSM-7 basic
    assert "empty note" in why[3]
    assert sum("content" in w and "country" not in w.split(";")[0] for w in why.values()) >= 1
    assert sorted(picks) == [0, 1, 2, 3]  # four distinct contents: each one is tested


async def test_test_send_catches_a_refused_template_and_require_test_refuses(
    tmp_path: Path,
) -> None:
    plan = offer_plan()
    path = tmp_path / "c.sqlite"
    fake = FakeTime()
    async with (
        Sandbox(seed=5, refuse_content={"flash sale": "-6"}, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST) as client,
    ):
        frame = await send_test(plan, client, SEEDS, ledger=path, clock=fake.clock,
                                sleep=fake.sleep)  # fmt: skip
        assert list(frame["seed"].unique()) == ["919000000001", "919000000002"]
        refused = frame[frame["row"] == "c1"]
        assert set(refused["state"]) == {"rejected"}
        assert refused["error"].str.startswith("-6").all()
        others = frame[frame["row"] != "c1"]
        assert set(others["state"]) == {"submitted"} and set(others["delivery"]) == {"delivered"}
        assert frame.attrs["passed"] is False
        # Only seeds got messages; nobody of the campaign.
        assert {m.number for m in sb.accepted} == {"919000000001", "919000000002"}
        with Ledger.open(path, create=False) as ledger:
            kept = list_test_sends(ledger)
        assert len(kept) == 1 and kept[0]["passed"] is False
        assert kept[0]["fingerprint"] == plan.fingerprint
        with pytest.raises(UsageError, match="require_test: no passing test send"):
            await send_campaign(plan, client, ledger=path, require_test=True, progress=False)
        assert len(sb.accepted) == 6
        assert load_campaign(path).summary().counts.get("submitted", 0) == 0


async def test_passing_test_lets_require_test_send(tmp_path: Path) -> None:
    plan = offer_plan()
    path = tmp_path / "c.sqlite"
    fake = FakeTime()
    async with Sandbox(seed=5, **QUIET) as sb, AsyncClient(sb.credentials, FAST) as client:
        frame = await send_test(plan, client, SEEDS[:1], ledger=path, clock=fake.clock,
                                sleep=fake.sleep)  # fmt: skip
        assert frame.attrs["passed"] is True
        result = await send_campaign(plan, client, ledger=path, require_test=True, progress=False)
        assert result.status == "completed"
        assert result.counts()["submitted"] == 4  # seeds are not recipients


async def test_test_send_waits_on_the_injected_clock_then_reports_sending(tmp_path: Path) -> None:
    fake = FakeTime()
    slow = {**QUIET, "delivery_delay": (7200.0, 7200.0)}
    async with Sandbox(seed=5, **slow) as sb, AsyncClient(sb.credentials, FAST) as client:
        frame = await send_test(offer_plan(), client, SEEDS[:1], timeout="2m", poll=30,
                                clock=fake.clock, sleep=fake.sleep)  # fmt: skip
        assert sum(fake.slept) == pytest.approx(120)
        assert set(frame["delivery"]) == {"sending"}
        assert frame.attrs["passed"] is False


async def test_bad_seed_is_a_one_line_error(sb: Sandbox, client: AsyncClient) -> None:
    with pytest.raises(UsageError, match="not phone numbers: call me"):
        await send_test(offer_plan(), client, ["call me"])
    with pytest.raises(UsageError, match="at least one seed"):
        await send_test(offer_plan(), client, [])
    assert len(sb.requests) == 0
