"""The automatic pause: a rolling rate of rejected or unknown requests halts the campaign."""

from __future__ import annotations

import pandas as pd
import pytest

from itnio_campaign.client import AsyncClient
from itnio_campaign.errors import UsageError
from itnio_campaign.options import SendOptions
from itnio_campaign.runner import build_batches, send_batches
from itnio_campaign.sandbox import Sandbox


def requests_of(pattern: str) -> list:
    """One request per letter: ``a`` is accepted, ``r`` is refused (-3, a sensitive word)."""
    texts = [f"Hello {i}" if c == "a" else f"casino night {i}" for i, c in enumerate(pattern)]
    df = pd.DataFrame({"number": [f"9198{i:08d}" for i in range(len(texts))], "text": texts})
    batches = build_batches(df, content_col="text", max_numbers=1)
    assert [b.items[0].content[0] for b in batches] == ["H" if c == "a" else "c" for c in pattern]
    return batches


async def test_rolling_rate_halts_with_the_rate_in_the_reason(
    sb: Sandbox, client: AsyncClient
) -> None:
    # Never 3 refused in a row (max_failed_batches=3 does not fire), but 4 of every 6.
    batches = requests_of("arrarrarrarrarrarr")
    report = await send_batches(
        client, batches, concurrency=1, max_failed_batches=3, pause_window=6, pause_rate=0.5,
        progress=False,
    )  # fmt: skip
    assert report.status == "halted"
    assert report.halt_reason is not None
    assert "automatic pause: 4 of the last 6 requests rejected or unknown (67%" in (
        report.halt_reason
    )
    assert "above the 50% limit" in report.halt_reason
    assert "-3" in report.halt_reason
    assert len(report.outcomes) == 6  # halted as soon as the window was full and over the limit
    assert len(sb.requests) == 6


async def test_rate_at_the_limit_or_pause_off_does_not_halt(
    sb: Sandbox, client: AsyncClient
) -> None:
    batches = requests_of("ar" * 8)  # exactly 50%: not above the limit
    report = await send_batches(
        client, batches, concurrency=1, pause_window=4, pause_rate=0.5, progress=False
    )
    assert report.status == "completed"
    off = await send_batches(
        client, requests_of("arrarrarrarr"), concurrency=1, max_failed_batches=None,
        pause_window=None, progress=False,
    )  # fmt: skip
    assert off.status == "completed"
    assert len(off.outcomes) == 12


async def test_default_pause_is_on_and_judges_only_a_full_window(
    sb: Sandbox, client: AsyncClient
) -> None:
    assert SendOptions().pause_window == 20 and SendOptions().pause_rate == 0.5
    # 19 requests, mostly refused but never 5 in a row: the window of 20 is never full.
    short = await send_batches(client, requests_of("arrra" * 3 + "rrra"), concurrency=1,
                               progress=False)  # fmt: skip
    assert short.status == "completed"
    long = await send_batches(client, requests_of("arrra" * 8), concurrency=1, progress=False)
    assert long.status == "halted"
    assert long.halt_reason is not None and "of the last 20 requests" in long.halt_reason


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"pause_window": 0}, "pause_window must be at least 1"),
        ({"pause_window": True}, "pause_window must be at least 1"),
        ({"pause_rate": 1.0}, "pause_rate must be a share"),
        ({"pause_rate": -0.1}, "pause_rate must be a share"),
        ({"pause_rate": "half"}, "pause_rate must be a share"),
    ],
)
def test_bad_pause_settings_are_one_line_errors(knobs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        SendOptions(**knobs)
