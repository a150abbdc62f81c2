"""The sandbox's controllable delivery outcomes and refusals, over loopback."""

from __future__ import annotations

import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.client import AsyncClient
from itnio_campaign.errors import RequestError
from itnio_campaign.models import BatchItem
from itnio_campaign.sandbox import Knobs, Sandbox


async def statuses(client: AsyncClient, sb: Sandbox, numbers: list[str], content: str) -> list:
    sent = await client.send_sms(numbers, content)
    sb.settle_all()
    report = await client.get_report(list(sent.msg_ids))
    by_id = {r.msg_id: r.status for r in report.records}
    return [by_id[m] for m in sent.msg_ids]


async def test_undelivered_rates_by_prefix_and_by_content() -> None:
    knobs = {
        "undelivered_rate": 0.0,
        "undelivered_by_prefix": {"44": 1.0, "4477": 0.0},
        "undelivered_by_content": {"PROMO": 1.0},
    }
    async with (
        Sandbox(seed=2, **knobs) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        uk = [f"4420{i:07d}" for i in range(20)]
        assert set(await statuses(client, sb, uk, "Hello")) == {"undelivered"}
        longest = [f"4477{i:07d}" for i in range(20)]  # the longer prefix wins
        assert set(await statuses(client, sb, longest, "Hello")) == {"delivered"}
        india = [f"9198{i:08d}" for i in range(20)]
        assert set(await statuses(client, sb, india, "Hello")) == {"delivered"}
        assert set(await statuses(client, sb, india, "Big promo today")) == {"undelivered"}


@pytest.mark.parametrize("code", ["-3", "-6", "-19"])
async def test_refuse_content_answers_the_chosen_status(code: str) -> None:
    async with (
        Sandbox(seed=2, refuse_content={"flash sale": code}) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        with pytest.raises(RequestError) as caught:
            await client.send_sms(["919800000001"], "Our FLASH SALE starts now")
        assert caught.value.code == code
        items = [BatchItem(("919800000002",), "Hello"), BatchItem(("919800000003",), "flash sale")]
        with pytest.raises(RequestError) as in_batch:
            await client.send_sms_batch(items)
        assert in_batch.value.code == code
        ok = await client.send_sms(["919800000004"], "Hello")
        assert ok.success == 1
        assert sb.times_accepted("919800000001") == 0


def test_bad_refusal_code_or_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="refuse_content"):
        Knobs(refuse_content={"x": "-99"})
    with pytest.raises(ValueError, match="undelivered_by_prefix"):
        Knobs(undelivered_by_prefix={"44": 1.5})
