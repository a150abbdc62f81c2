"""Send windows at plan time: parsing, local times across DST, days, holidays, the dry run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from itnio_campaign.errors import UsageError
from itnio_campaign.plan import plan_campaign
from itnio_campaign.schedule import Schedule, Window, WindowGroup, parse_days, schedule_warnings

NY = ZoneInfo("America/New_York")


def at(zone: ZoneInfo | str, *args: int) -> float:
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    return datetime(*args, tzinfo=tz).timestamp()


def local(epoch: float, zone: str) -> datetime:
    return datetime.fromtimestamp(epoch, ZoneInfo(zone))


# -- windows ------------------------------------------------------------------------------------
def test_window_crossing_midnight_opens_tonight_and_closes_tomorrow_morning() -> None:
    group = WindowGroup(("Asia/Kolkata",), Window.parse("22:00-06:00"), margin=0)
    noon = at("Asia/Kolkata", 2026, 5, 4, 12, 0)
    opens, closes = group.next_open(noon)
    assert local(opens, "Asia/Kolkata").replace(tzinfo=None) == datetime(2026, 5, 4, 22, 0)
    assert local(closes, "Asia/Kolkata").replace(tzinfo=None) == datetime(2026, 5, 5, 6, 0)
    # at 03:00 the window that opened yesterday evening is open
    assert group.is_open(at("Asia/Kolkata", 2026, 5, 5, 3, 0))
    assert not group.is_open(at("Asia/Kolkata", 2026, 5, 5, 7, 0))


def test_window_keeps_local_hours_across_the_spring_dst_change() -> None:
    group = WindowGroup(("America/New_York",), Window.parse("09:00-20:00"), margin=0)
    friday = at(NY, 2026, 3, 6, 21, 0)  # DST starts Sunday 2026-03-08
    opens = []
    t = friday
    for _ in range(4):
        o, c = group.next_open(t)
        opens.append(datetime.fromtimestamp(o, UTC).hour)
        t = c + 1
    # 09:00 EST is 14:00 UTC; from Sunday 09:00 EDT is 13:00 UTC
    assert opens == [14, 13, 13, 13]


def test_window_keeps_local_hours_across_the_autumn_dst_change() -> None:
    group = WindowGroup(("Europe/Paris",), Window.parse("08:00-20:30"), margin=0)
    o1, c1 = group.next_open(at("Europe/Paris", 2026, 10, 24, 21, 0))  # Sunday 25th: CET
    assert local(o1, "Europe/Paris").hour == 8 and c1 - o1 == 12.5 * 3600
    assert datetime.fromtimestamp(o1, UTC).hour == 7  # was 06:00 UTC on the Saturday
    o0, _ = group.next_open(at("Europe/Paris", 2026, 10, 24, 7, 0))
    assert datetime.fromtimestamp(o0, UTC).hour == 6


def test_days_skip_the_weekend_and_wrap_around() -> None:
    group = WindowGroup(("Asia/Kolkata",), Window.parse("09:00-20:00", days="mon-fri"))
    saturday = at("Asia/Kolkata", 2026, 5, 9, 10, 0)
    opens, _ = group.next_open(saturday)
    assert local(opens, "Asia/Kolkata").date() == date(2026, 5, 11)  # Monday
    assert sorted(parse_days("sat-mon")) == [0, 5, 6]
    assert sorted(parse_days("Mon, Wed, friday")) == [0, 2, 4]
    assert parse_days("mon-sun") is None


def test_holidays_are_skipped_in_local_time() -> None:
    window = Window.parse("09:00-20:00", holidays=[date(2026, 12, 25)])
    group = WindowGroup(("America/New_York",), window)
    opens, _ = group.next_open(at(NY, 2026, 12, 24, 21, 0))
    assert local(opens, "America/New_York").date() == date(2026, 12, 26)


def test_uncertain_zone_gets_the_intersection_of_its_zones() -> None:
    w = Window.parse("09:00-20:00")
    both = WindowGroup(("America/New_York", "America/Los_Angeles"), w, margin=0)
    opens, closes = both.next_open(at(NY, 2026, 5, 4, 5, 0))
    # open only when it is 09:00-20:00 in both: 12:00-20:00 New York time
    assert local(opens, "America/New_York").hour == 12
    assert local(closes, "America/New_York").hour == 20
    apart = WindowGroup(("Pacific/Guam", "America/Adak"), Window.parse("09:00-10:00"))
    assert apart.next_open(at(NY, 2026, 5, 4, 5, 0)) is None


def test_not_before_and_expire_at_clip_the_windows() -> None:
    nb = at(NY, 2026, 5, 4, 15, 0)
    ex = at(NY, 2026, 5, 4, 17, 0)
    group = WindowGroup(("America/New_York",), Window.parse("09:00-20:00"), nb, ex, margin=0)
    assert group.next_open(at(NY, 2026, 5, 4, 10, 0)) == (nb, ex)
    assert group.next_open(ex + 1) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": "9-20"}, "not a time like 09:00"),
        ({"window": "09:00-09:00"}, "empty"),
        ({"window": "25:00-26:00"}, "not a time of day"),
        ({"window": "09:00-20:00", "days": "mon-funday"}, "not a day"),
        ({"not_before": "2026-12-01T09:00:00"}, "no time zone"),
        ({"expire_at": datetime(2026, 12, 1, 9)}, "no time zone"),
        ({"not_before": "2026-12-02T00:00Z", "expire_at": "2026-12-01T00:00Z"}, "after"),
        ({"default_tz": "Mumbai"}, "not an IANA time zone"),
        ({"window": "09:00-20:00", "late": "later"}, "late must be"),
        ({"holidays": ["25/12/2026"]}, "not a date"),
    ],
)
def test_bad_schedule_settings_are_one_line_usage_errors(kwargs: dict, message: str) -> None:
    df = pd.DataFrame({"phone": ["+91 98765 43210"]})
    with pytest.raises(UsageError, match=message):
        plan_campaign(df, content="Hi", **kwargs)


def test_schedule_settings_round_trip_through_json() -> None:
    s = Schedule.of(
        window=("21:30", "06:00"),
        days="sat-mon",
        holidays=["2026-12-25"],
        not_before="2026-12-01T09:00:00+05:30",
        late="skip",
        default_tz="Asia/Kolkata",
    )
    assert s is not None
    back = Schedule.from_settings({"schedule": s.to_settings()})
    assert back == s


# -- the plan -----------------------------------------------------------------------------------
def three_zones(n: int = 30) -> pd.DataFrame:
    phones = (
        [f"+1 212 555 {i:04d}" for i in range(n)]  # New York
        + [f"+91 98{i:08d}" for i in range(n)]  # India
        + [f"+1 650 555 {i:04d}" for i in range(n)]  # California
    )
    return pd.DataFrame({"phone": phones, "name": ["Ann", "Raj", "Bo"] * n})


def test_requests_never_mix_recipients_of_different_windows() -> None:
    plan = plan_campaign(three_zones(500), content="Hi {name}", window="09:00-20:00")
    tz = plan.recipients["tz"].to_numpy()
    for batch in plan.batches:
        assert len({tz[p] for p in batch.positions}) == 1
    assert sorted(set(tz)) == ["America/Los_Angeles", "America/New_York", "Asia/Kolkata"]
    assert set(plan.recipients["tz_source"]) == {"number"}
    # without windows the same frame packs zones together (1,500 numbers: 2 requests)
    packed = plan_campaign(three_zones(500), content="Hi {name}").batches
    assert len(packed) == 2 and len(plan.batches) == 3


def test_a_plan_without_windows_is_unchanged() -> None:
    plan = plan_campaign(three_zones(), content="Hi")
    assert "tz" not in plan.recipients and "schedule" not in plan.settings
    assert plan.summary().schedule is None and plan.schedule().empty


def test_schedule_per_zone_says_when_it_opens_and_what_does_not_fit() -> None:
    now = at(NY, 2026, 5, 4, 19, 0)  # New York open one more hour; India opens 23:30 UTC
    plan = plan_campaign(
        three_zones(300), content="Hi", window="09:00-20:00",
        expire_at=datetime(2026, 5, 5, 1, 0, tzinfo=UTC),
    )  # fmt: skip
    frame = plan.schedule(now=now, rate=0.05)  # 0.05 SMS/s: 177 in the 59 minutes left
    assert frame["tz"].tolist() == ["America/New_York", "America/Los_Angeles", "Asia/Kolkata"]
    by_tz = frame.set_index("tz")
    ny = by_tz.loc["America/New_York"]
    assert ny.opens_at == datetime.fromtimestamp(now, UTC)
    assert ny.closes_at == datetime(2026, 5, 5, 0, 0, tzinfo=UTC)
    assert ny.recipients == 300 and ny.est_send_s == 6000.0
    assert (ny.fits, ny.left_over) == (False, 123)
    la = by_tz.loc["America/Los_Angeles"]  # open until 20:00 local, but expire_at is 01:00 UTC
    assert la.closes_at == datetime(2026, 5, 5, 1, 0, tzinfo=UTC) and la.left_over == 120
    india = by_tz.loc["Asia/Kolkata"]  # opens 03:30 UTC: after expire_at
    assert pd.isna(india.opens_at) and not india.fits and india.left_over == 300
    warnings = schedule_warnings(frame, plan.schedule_settings)
    assert any(
        "America/New_York" in w and "123 of 300" in w and "next window" in w for w in warnings
    )
    assert any("America/Los_Angeles" in w and "expire" in w for w in warnings)
    assert any("Asia/Kolkata" in w and "no window before expire_at" in w for w in warnings)
    text = str(plan.summary())
    assert "send window" in text and "America/New_York" in text


def test_summary_counts_rows_with_an_uncertain_zone() -> None:
    df = pd.DataFrame({"phone": ["+1 212 555 0143", "+1 500 555 0143", "+1 500 555 0144"]})
    plan = plan_campaign(df, content="Hi", window="09:00-20:00")
    assert plan.recipients["tz_source"].tolist() == ["number", "country-restrictive"] * 1 + [
        "country-restrictive"
    ]
    assert plan.summary().restrictive_rows == 2
    assert "uncertain zone" in str(plan.summary())


def test_rows_whose_zones_share_no_hour_of_the_window_are_skipped_with_a_reason() -> None:
    df = pd.DataFrame({"phone": ["+1 212 555 0143", "+1 500 555 0143"]})
    plan = plan_campaign(df, content="Hi", window="09:00-10:00")
    assert plan.recipients["state"].tolist() == ["ready", "skipped_no_window"]
    assert "tz_col= or default_tz=" in plan.recipients["reason"].iloc[1]
    assert plan.summary().counts["skipped_no_window"] == 1
    # with a default zone among the number's possible zones, the row is planned there
    fixed = plan_campaign(df, content="Hi", window="09:00-10:00", default_tz="America/Chicago")
    assert fixed.recipients["tz"].tolist() == ["America/New_York", "America/Chicago"]
    assert fixed.recipients["tz_source"].tolist() == ["number", "default"]


def test_tz_col_wins_over_the_number_and_bad_names_are_refused() -> None:
    df = pd.DataFrame({"phone": ["+1 212 555 0143", "+1 650 555 0143"],
                       "zone": ["Europe/Paris", None]})  # fmt: skip
    plan = plan_campaign(df, content="Hi", window="09:00-20:00", tz_col="zone")
    assert plan.recipients["tz"].tolist() == ["Europe/Paris", "America/Los_Angeles"]
    assert plan.recipients["tz_source"].tolist() == ["column", "number"]
    df.loc[1, "zone"] = "Pacific Time"
    with pytest.raises(UsageError, match="'Pacific Time'"):
        plan_campaign(df, content="Hi", window="09:00-20:00", tz_col="zone")


def test_promotional_window_uses_each_country_preset() -> None:
    plan = plan_campaign(three_zones(2), content="Hi", window="promotional", days="mon-fri")
    windows = dict(zip(plan.recipients["tz"], plan.recipients["window"], strict=True))
    assert windows["Asia/Kolkata"] == "10:00-21:00 mon-fri"  # TRAI
    assert windows["America/New_York"] == "08:00-20:00 mon-fri"  # TCPA, stricter states


def test_late_skip_dry_run_counts_a_window_already_passed() -> None:
    now = at(NY, 2026, 5, 4, 21, 0)  # New York's window of the day has closed
    plan = plan_campaign(three_zones(10), content="Hi", window="09:00-20:00", late="skip")
    ny = plan.schedule(now=now).set_index("tz").loc["America/New_York"]
    assert ny.left_over == 10 and not ny.fits
    later = plan_campaign(three_zones(10), content="Hi", window="09:00-20:00")
    ny2 = later.schedule(now=now).set_index("tz").loc["America/New_York"]
    assert ny2.fits and ny2.opens_at - datetime.fromtimestamp(now, UTC) == timedelta(hours=12)


def test_an_all_day_window_stays_open_across_midnight() -> None:
    group = WindowGroup(("Asia/Kolkata",), Window.parse("00:00-24:00"))
    midnight = at("Asia/Kolkata", 2026, 5, 5, 0, 0)
    assert group.is_open(midnight - 30)  # 30 s before midnight: the next day goes on
    opens, closes = group.next_open(midnight - 30)
    assert closes - opens > 86400


def test_every_promotional_preset_names_its_source_and_can_be_overridden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from itnio_campaign import quiet_hours

    frame = quiet_hours.presets_frame()
    assert frame["source"].str.len().gt(5).all() and "default" in frame.index
    assert "not legal advice" in (quiet_hours.__doc__ or "")
    for preset in quiet_hours.PRESETS.values():
        Window.parse(preset.window, days=preset.days)  # each one parses
    monkeypatch.setitem(quiet_hours.PRESETS, 91, quiet_hours.Preset("IN", "11:00-19:00", None, "x"))
    plan = plan_campaign(three_zones(1), content="Hi", window="promotional")
    assert "11:00-19:00" in set(plan.recipients["window"])
