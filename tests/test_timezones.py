"""Each recipient's zone: the number's prefix (multi-zone countries too), a column, a default."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from itnio_campaign import tz_prefixes
from itnio_campaign.errors import UsageError
from itnio_campaign.timezones import _table, assign_zones, candidate_zones, check_zone


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("12125550143", "America/New_York"),  # US, Manhattan
        ("13125550143", "America/Chicago"),  # US, Chicago
        ("16025550143", "America/Phoenix"),  # US, Arizona (no DST)
        ("18085550143", "Pacific/Honolulu"),  # US, Hawaii
        ("14165550143", "America/Toronto"),  # CA
        ("16045550143", "America/Vancouver"),  # CA
        ("5511987654321", "America/Sao_Paulo"),  # BR
        ("5592987654321", "America/Manaus"),  # BR, Amazonas
        ("74951234567", "Europe/Moscow"),  # RU, Moscow landline
        ("73832123456", "Asia/Novosibirsk"),  # RU, Novosibirsk landline
        ("61292345678", "Australia/Sydney"),  # AU, NSW landline
        ("526641234567", "America/Tijuana"),  # MX, Tijuana
        ("525512345678", "America/Mexico_City"),  # MX, CDMX
        ("62215551234", "Asia/Jakarta"),  # ID, Jakarta
        ("62361555123", "Asia/Makassar"),  # ID, Bali
        ("919876543210", "Asia/Kolkata"),  # one zone
        ("442071234567", "Europe/London"),  # GB, London landline
    ],
)
def test_the_number_gives_its_zone_in_countries_with_several(number: str, zone: str) -> None:
    assert candidate_zones(pd.Series([number])).tolist() == [(zone,)]


def test_a_number_whose_prefix_says_nothing_more_gets_every_zone_of_its_code() -> None:
    zones = candidate_zones(pd.Series(["15005550143"])).iloc[0]
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu"} <= set(zones)
    assert candidate_zones(pd.Series(["999", ""])).tolist() == [(), ()]


def test_zones_that_share_their_rules_give_the_same_window_as_one() -> None:
    # GB mobiles may be in London, Guernsey or the Isle of Man: one clock, one window
    from itnio_campaign.schedule import Window, WindowGroup

    zones = candidate_zones(pd.Series(["447700900123"])).iloc[0]
    assert set(zones) == {"Europe/London", "Europe/Guernsey", "Europe/Isle_of_Man"}
    w = Window.parse("09:00-20:00")
    t = 1_780_000_000.0
    assert WindowGroup(zones, w).next_open(t) == WindowGroup(("Europe/London",), w).next_open(t)
    # Western Australian landlines: Perth or Adelaide (90 minutes apart): the overlap
    wa = candidate_zones(pd.Series(["61892345678"])).iloc[0]
    assert wa == ("Australia/Adelaide", "Australia/Perth")


def test_every_zone_of_the_table_is_a_valid_iana_zone() -> None:
    for name in tz_prefixes.ZONES:
        ZoneInfo(name)


def _slow_lookup(number: str) -> tuple[str, ...]:
    """The reference: the longest prefix of the number in the table, one number at a time."""
    table = _table()[0]
    for n in range(min(len(number), tz_prefixes.LONGEST_PREFIX), 0, -1):
        if number[:n] in table:
            return table[number[:n]]
    return ()


def test_the_vectorised_lookup_agrees_with_a_per_number_longest_prefix_match() -> None:
    rng = random.Random(7)
    prefixes = sorted(_table()[0])
    numbers = [rng.choice(prefixes) + "".join(rng.choices("0123456789", k=8)) for _ in range(3000)]
    numbers += [f"1{rng.randrange(2_000_000_000, 9_999_999_999)}" for _ in range(3000)]
    got = candidate_zones(pd.Series(numbers)).tolist()
    assert got == [_slow_lookup(n) for n in numbers]


def test_zone_sources_in_order_column_number_default_restrictive() -> None:
    numbers = pd.Series(["12125550143", "15005550143", "15005550144", "919876543210", "999"])
    column = pd.Series(["Europe/Paris", None, "", None, None])
    zones, tz, source = assign_zones(numbers, tz_values=column, default_tz="America/Chicago")
    assert tz.tolist() == [
        "Europe/Paris", "America/Chicago", "America/Chicago", "Asia/Kolkata", "America/Chicago",
    ]  # fmt: skip
    assert source.tolist() == ["column", "default", "default", "number", "default"]
    _, tz2, source2 = assign_zones(numbers)
    assert source2.tolist() == ["number", "country-restrictive", "country-restrictive",
                                "number", "default"]  # fmt: skip
    assert tz2.iloc[4] == "UTC" and "America/New_York" in tz2.iloc[1].split(",")
    assert zones.iloc[0] == ("Europe/Paris",)


def test_a_default_outside_the_numbers_possible_zones_is_not_used() -> None:
    _, tz, source = assign_zones(pd.Series(["15005550143"]), default_tz="Asia/Kolkata")
    assert source.tolist() == ["country-restrictive"] and "Asia/Kolkata" not in tz.iloc[0]


def test_bad_zone_names_are_one_line_errors() -> None:
    with pytest.raises(UsageError, match="not an IANA time zone"):
        check_zone("IST")
    with pytest.raises(UsageError, match="'Bombay'"):
        assign_zones(pd.Series(["919876543210"]), tz_values=pd.Series(["Bombay"]))
