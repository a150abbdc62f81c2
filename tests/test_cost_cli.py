"""The cost guard at the command line: what costs money, smart encoding, caps, footer, prices."""

from __future__ import annotations

import re
from pathlib import Path

from test_cli import no_traceback, run


def test_plan_names_the_costly_character_and_what_smart_encoding_saves(
    tmp_path: Path, csv_file: Path
) -> None:
    content = "Hi {first_name}, don’t miss {store}: " + "y" * 60  # 2 UCS-2 segments, 1 GSM-7
    off = run(["plan", str(csv_file), "--content", content], tmp_path)
    assert off.returncode == 0, off.stderr
    assert "RIGHT SINGLE QUOTATION MARK" in off.stdout
    assert re.search(r"smart encoding\s+off: would save [\d,]+ segments", off.stdout), off.stdout
    on = run(["plan", str(csv_file), "--content", content, "--smart-encoding", "--show", "1"],
             tmp_path)  # fmt: skip
    assert on.returncode == 0, on.stderr
    assert "don't miss" in on.stdout and "don’t" not in on.stdout.split("segments")[-1]


def test_plan_caps_segments_appends_the_footer_and_prices_by_country(
    tmp_path: Path, csv_file: Path
) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("Country;ISO;Prefix;Price;Currency\nIndia;IN;91;0,01;EUR\n", "utf-8")
    content = "Hi {first_name} " + "x" * 130
    args = ["plan", str(csv_file), "--content", content, "--footer", "Reply STOP to opt out",
            "--max-segments", "1", "--prices", str(prices)]  # fmt: skip
    proc = run(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"skipped_too_long\s+2,500", proc.stdout), proc.stdout  # the footer tips it
    assert "EUR" in proc.stdout
    bad = run([*args[:-2], "--on-long", "truncate:nope"], tmp_path)
    assert bad.returncode in (1, 2) and "nope" in bad.stderr
    no_traceback(bad)
