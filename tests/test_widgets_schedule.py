"""The form's send windows: fields → plan, the dry run's schedule chart (one lane per zone).

Driven like a user: set widget values, click buttons, read what the widgets show.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.charts.timeline import lanes, timeline_svg
from itnio_campaign.widgets import CampaignForm

#: Four zones by number: India, London, New York (212), Los Angeles (415).
ZONE_PREFIXES = {
    "Asia/Kolkata": "+91 98{:08d}",
    "Europe/London": "+44 7400 {:06d}",
    "America/New_York": "+1 212 20{:05d}",
    "America/Los_Angeles": "+1 415 20{:05d}",
}


def world(n: int = 5) -> pd.DataFrame:
    """``n`` contacts in each of four time zones."""
    phones = [f.format(i) for f in ZONE_PREFIXES.values() for i in range(1, n + 1)]
    return pd.DataFrame({"phone": phones, "name": [f"Cust{i}" for i in range(len(phones))]})


def make_form(df: pd.DataFrame, tmp_path: Path) -> CampaignForm:
    return CampaignForm(
        df, None, ledger_dir=tmp_path / "ledgers", report_dir=tmp_path / "reports",
        client_settings=FAST_SETTINGS,
    )  # fmt: skip


def text(html_value: str) -> str:
    return re.sub(r"<[^>]+>", " ", html_value)


# --- the timeline on its own ------------------------------------------------------------------
def schedule_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tz": ["Asia/Kolkata", "Asia/Kolkata", "Europe/London", "America/New_York"],
            "recipients": [900, 100, 40, 30],
            "opens_at": pd.to_datetime(
                ["2026-12-01 03:30", "2026-12-02 03:30", "2026-12-01 09:00", "2026-12-01 14:00"],
                utc=True,
            ),
            "closes_at": pd.to_datetime(
                ["2026-12-01 14:30", "2026-12-02 14:30", "2026-12-01 20:00", "2026-12-02 01:00"],
                utc=True,
            ),
            "est_send_s": [40_000.0, 5.0, 1.0, 1.0],
            "fits": [False, True, True, True],
            "left_over": [120, 0, 0, 0],
        }
    )


def test_timeline_has_one_lane_per_zone_in_schedule_order() -> None:
    svg = timeline_svg(schedule_frame())
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert lanes(svg) == ["Asia/Kolkata", "Europe/London", "America/New_York"]
    # the zone's two windows (two days) are drawn in its one lane
    kolkata = svg[svg.index('data-tz="Asia/Kolkata"') : svg.index('data-tz="Europe/London"')]
    assert kolkata.count('class="itnio-window"') == 2
    assert "Asia/Kolkata · 1,000" in kolkata


def test_timeline_marks_a_window_too_short_and_says_how_many_are_left() -> None:
    svg = timeline_svg(schedule_frame())
    kolkata = svg[svg.index('data-tz="Asia/Kolkata"') : svg.index('data-tz="Europe/London"')]
    assert "120 left" in kolkata and "does not fit: 120 would be left" in kolkata
    assert "#c62828" in kolkata  # drawn red
    london = svg[svg.index('data-tz="Europe/London"') : svg.index('data-tz="America/New_York"')]
    assert "left" not in text(london) and "#c62828" not in london


def test_timeline_bars_follow_the_times() -> None:
    svg = timeline_svg(schedule_frame(), width=760)
    xs = {
        tz: float(re.search(rf'data-tz="{tz}".*?class="itnio-window" x="([\d.]+)"', svg)[1])  # type: ignore[index]
        for tz in ("Asia/Kolkata", "Europe/London", "America/New_York")
    }
    assert xs["Asia/Kolkata"] < xs["Europe/London"] < xs["America/New_York"]


def test_timeline_of_an_empty_schedule_is_empty_and_a_wrong_frame_is_refused() -> None:
    assert timeline_svg(schedule_frame().iloc[0:0]) == ""
    with pytest.raises(ValueError, match="opens_at"):
        timeline_svg(pd.DataFrame({"tz": ["UTC"], "recipients": [1]}))


def test_timeline_escapes_zone_names() -> None:
    frame = schedule_frame().iloc[:1].assign(tz="<script>")
    svg = timeline_svg(frame)
    assert "<script>" not in svg and lanes(svg) == ["<script>"]


# --- the form ---------------------------------------------------------------------------------
def test_form_dry_run_with_a_window_draws_one_lane_per_zone(tmp_path: Path) -> None:
    form = make_form(world(), tmp_path)
    form.content.value = "Hi {name}, 20% off this weekend"
    form.when.window.value = "09:00-20:00"
    form.when.days.value = "mon-sat"
    form.dry_run_button.click()
    assert form.plan is not None, form.errors.value
    assert form.plan.settings["schedule"]["window"] == "09:00-20:00"
    assert form.plan.settings["schedule"]["days"] == "mon-sat"
    schedule = form.plan.schedule()
    svg = form.when.schedule.value
    assert "<svg" in svg
    assert sorted(lanes(svg)) == sorted(schedule["tz"].astype(str).unique())
    # one lane per zone; a UK mobile may be in London, Guernsey or the Isle of Man: one lane
    assert len(lanes(svg)) == 4
    for zone in ZONE_PREFIXES:
        assert any(zone in lane.split(",") for lane in lanes(svg)), zone
    # the table under the chart has the zones and the counts too
    table = text(svg[svg.index("</svg>") :])
    for zone in ("Asia/Kolkata", "America/New_York", "America/Los_Angeles"):
        assert zone in table


def test_changing_a_window_field_asks_for_a_new_dry_run(tmp_path: Path) -> None:
    form = make_form(world(), tmp_path)
    form.content.value = "Hello {name}"
    form.when.window.value = "09:00-20:00"
    form.dry_run_button.click()
    assert form.dry_run_current()
    form.when.expire_at.value = "2030-01-01T00:00+00:00"
    assert not form.dry_run_current()
    assert "run the dry run again" in text(form.summary.value)
    assert form.confirm.disabled


def test_a_bad_expiry_is_said_in_the_form_not_raised(tmp_path: Path) -> None:
    form = make_form(world(), tmp_path)
    form.content.value = "Hello {name}"
    form.when.expire_at.value = "next tuesday"
    form.dry_run_button.click()
    assert form.plan is None
    assert "Expire at must be an ISO 8601 time" in text(form.errors.value)
    assert "Traceback" not in form.errors.value
    assert form.when.schedule.value == ""


def test_a_form_without_ledger_dir_says_windows_need_one(tmp_path: Path) -> None:
    form = CampaignForm(world(), None, ledger_dir=None, report_dir=tmp_path)
    form.content.value = "Hello {name}"
    form.when.window.value = "promotional"
    form.dry_run_button.click()
    assert "<svg" in form.when.schedule.value
    assert "Send windows need a ledger" in text(form.when.schedule.value)


def test_a_plan_without_a_window_shows_no_schedule(tmp_path: Path) -> None:
    form = make_form(world(), tmp_path)
    form.content.value = "Hello {name}"
    form.dry_run_button.click()
    assert form.plan is not None
    assert form.when.schedule.value == ""


# --- sending with a window -------------------------------------------------------------------
def inside(accepted_at: float, tz: str, window: tuple[str, str] = ("09:00", "20:00")) -> bool:
    """True when ``accepted_at`` is inside the window in every zone of ``tz``."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    times = [datetime.fromtimestamp(accepted_at, ZoneInfo(z)) for z in tz.split(",")]
    return all(window[0] <= f"{t:%H:%M}" < window[1] for t in times)


async def test_form_sends_each_zone_only_inside_its_window_on_a_fast_clock(
    tmp_path: Path,
) -> None:
    from itnio_campaign.sandbox import Sandbox
    from itnio_campaign.schedule_send import FastClock

    clock = FastClock()
    knobs = {"delivery_delay": (0.0, 0.0), "reply_rate": 0.0, "clock": clock.now,
             "timestamp_tolerance": 10 * 86400}  # fmt: skip
    async with Sandbox(seed=1, **knobs) as sb:
        form = CampaignForm(
            world(), sb.credentials, ledger_dir=tmp_path / "ledgers",
            client_settings=FAST_SETTINGS, clock=clock.now, sleep=clock.sleep,
        )  # fmt: skip
        form.content.value = "Hi {name}"
        form.when.window.value = "09:00-20:00"
        form.dry_run_button.click()
        if form.balance_task is not None:
            await form.balance_task
        labels: list[str] = []
        form.progress_label.observe(lambda change: labels.append(change["new"]), names="value")
        form.confirm.value = True
        form.send_button.click()
        assert form.sending_task is not None
        await form.sending_task
        assert form.result is not None, form.errors.value
        # while it waited, the progress line said which zone opens when
        assert any("waiting for" in text(v) and "opens at" in text(v) for v in labels), labels
        assert form.result.status == "completed", form.result.halt_reason
        zone_of = dict(zip(form.plan.recipients["number"], form.plan.recipients["tz"],
                           strict=True))  # fmt: skip
        accepted = list(sb.accepted)
        assert len(accepted) == 20
        assert Counter(m.number for m in accepted) == Counter(list(zone_of))  # each once
        outside = [(m.number, zone_of[m.number]) for m in accepted
                   if not inside(m.accepted_at, zone_of[m.number])]  # fmt: skip
        assert outside == []


def window_x(svg: str, tz: str) -> float:
    """Where the first window of ``tz``'s lane starts."""
    found = re.search(rf'data-tz="{tz}".*?class="itnio-window" x="([\d.]+)"', svg)
    assert found is not None, tz
    return float(found[1])


def test_timeline_marks_now_between_the_windows_it_falls_between() -> None:
    now = pd.Timestamp("2026-12-01 12:00", tz="UTC").to_pydatetime()
    svg = timeline_svg(schedule_frame(), now=now)
    found = re.search(r'class="itnio-now" x1="([\d.]+)"', svg)
    assert found is not None
    # London opens at 09:00, New York at 14:00 UTC
    assert window_x(svg, "Europe/London") < float(found[1]) < window_x(svg, "America/New_York")
    assert "itnio-now" not in timeline_svg(schedule_frame())
