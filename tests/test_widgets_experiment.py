"""The form's Experiment section, driven as a user would: add a variant box, type, set the
holdout, dry run, send to the sandbox, read the per-variant dry run and the charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
from conftest import FAST_SETTINGS

from itnio_campaign.sandbox import Sandbox
from itnio_campaign.widgets import CampaignForm, describe_min_lift

NS = {"s": "http://www.w3.org/2000/svg"}


def contacts(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"mobile": [f"+91 98{i:08d}" for i in range(n)], "name": [f"Cust{i}" for i in range(n)]}
    )


def make_form(df: pd.DataFrame, sb: Sandbox | None, tmp_path: Path) -> CampaignForm:
    return CampaignForm(
        df, sb.credentials if sb is not None else None, ledger_dir=tmp_path / "ledgers",
        report_dir=tmp_path / "reports", client_settings=FAST_SETTINGS,
    )  # fmt: skip


def text(html_value: str) -> str:
    return re.sub(r"<[^>]+>", " ", html_value)


def svgs(html_value: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg.*?</svg>", html_value, re.S)]


async def dry_run(form: CampaignForm) -> None:
    form.dry_run_button.click()
    if form.balance_task is not None:
        await form.balance_task


def test_add_and_remove_variant_boxes_set_the_plan_options(tmp_path: Path) -> None:
    form = make_form(contacts(5), None, tmp_path)
    form.content.value = "Hi {name}"
    assert form.experiment_options() == {}
    assert form.remove_variant_button.disabled
    form.add_variant_button.click()
    ((name, box, counter),) = form.variant_boxes
    assert name == "B" and not form.remove_variant_button.disabled
    box.value = "Hello {name}, a second wording"
    assert "characters" in text(counter.value)
    form.holdout.value = 10
    form.split_seed.value = 11
    assert form.experiment_options() == {
        "variants": {"A": "Hi {name}", "B": "Hello {name}, a second wording"},
        "holdout": 0.1,
        "split_seed": 11,
    }
    form.add_variant_button.click()
    assert [n for n, _, _ in form.variant_boxes] == ["B", "C"]
    form.remove_variant_button.click()
    form.remove_variant_button.click()
    assert form.variant_boxes == [] and form.remove_variant_button.disabled
    assert form.experiment_options() == {"holdout": 0.1, "split_seed": 11}


async def test_changing_the_holdout_or_a_variant_needs_a_new_dry_run(
    sb: Sandbox, tmp_path: Path
) -> None:
    form = make_form(contacts(40), sb, tmp_path)
    form.content.value = "Hi {name}"
    form.add_variant("Hello {name}")
    await dry_run(form)
    assert form.dry_run_current()
    form.holdout.value = 20
    assert not form.dry_run_current() and form.send_button.disabled
    await dry_run(form)
    assert form.dry_run_current()
    form.variant_boxes[0][1].value = "Hello again {name}"
    assert not form.dry_run_current()


async def test_empty_variant_is_refused_in_plain_words(sb: Sandbox, tmp_path: Path) -> None:
    form = make_form(contacts(10), sb, tmp_path)
    form.content.value = "Hi {name}"
    form.add_variant("")
    await dry_run(form)
    assert form.plan is None
    assert "variant B has no message" in text(form.errors.value)


async def test_dry_run_shows_segments_per_variant_and_the_smallest_detectable_lift(
    sb: Sandbox, tmp_path: Path
) -> None:
    form = make_form(contacts(400), sb, tmp_path)
    form.content.value = "Hi {name}"
    form.add_variant("Hi {name}, " + "a much longer second wording " * 7)  # 2 segments
    form.holdout.value = 20
    await dry_run(form)
    assert form.plan is not None, form.errors.value
    rec = form.plan.recipients
    shown = text(form.experiment_summary.value)
    ready = rec[rec["state"] == "ready"]
    segments = ready.groupby("variant")["segments"].sum()
    assert segments["B"] > segments["A"]
    for variant in ("A", "B"):
        assert f"{segments[variant]:,}" in shown or str(segments[variant]) in shown
    assert "holdout" in shown
    expected = describe_min_lift(form.plan.min_detectable_lift(baseline=0.05), 0.05)
    assert expected in form.experiment_summary.value.replace("&#x27;", "'")
    assert "percentage points" in shown


async def test_after_sending_the_form_shows_outcome_and_variant_charts(
    sb: Sandbox, tmp_path: Path
) -> None:
    form = make_form(contacts(300), sb, tmp_path)
    form.content.value = "Hi {name}"
    form.add_variant("Hello {name}")
    form.holdout.value = 10
    await dry_run(form)
    form.confirm.value = True
    form.send_button.click()
    assert form.sending_task is not None
    await form.sending_task
    result = form.result
    assert result is not None and result.status == "completed", form.errors.value
    outcome, delivery, variants = svgs(form.charts.value)
    lines = {e.get("data-series"): e for e in delivery.iterfind(".//s:polyline", NS)}
    assert int(lines["accepted"].get("data-last", "")) == result.counts()["submitted"]
    bars = {
        b.get("data-label"): int(b.get("data-value", ""))
        for b in outcome.iterfind(".//s:rect", NS)
        if b.get("class") == "bar"
    }
    assert bars == result.counts()
    assert bars["skipped_holdout"] == (result.plan.recipients["variant"] == "holdout").sum()
    table = result.by_variant()  # indexed by variant
    intervals = {
        e.get("data-label"): (float(e.get("data-low", "")), float(e.get("data-high", "")))
        for e in variants.iterfind(".//s:line", NS)
        if e.get("class") == "interval"
    }
    assert set(intervals) == {"A", "B"}
    for name, (low, high) in intervals.items():
        assert low == table.loc[name, "delivered_low"]
        assert high == table.loc[name, "delivered_high"]
    # The holdout was sent nothing.
    holdout = set(result.plan.recipients.loc[result.plan.recipients["variant"] == "holdout",
                                             "number"])  # fmt: skip
    assert holdout and not holdout & {m.number for m in sb.accepted}


async def test_a_test_share_then_the_rollout_button_sends_the_winner_to_the_rest_once(
    sb: Sandbox, tmp_path: Path
) -> None:
    form = make_form(contacts(200), sb, tmp_path)
    form.content.value = "Hi {name}"
    form.add_variant("Hello {name}")
    form.holdout.value = 10
    form.test_share.value = 40
    await dry_run(form)
    assert form.plan is not None, form.errors.value
    form.confirm.value = True
    form.send_button.click()
    assert form.sending_task is not None
    await form.sending_task
    held = form.result.counts()["held_for_rollout"] if form.result else 0
    assert held == 100 and not form.rollout_button.disabled
    assert "100 recipients wait for the winner" in text(form.rollout_result.value)
    test_numbers = {m.number for m in sb.accepted}
    assert len(test_numbers) == 80
    form.rollout_min_n.value = 20
    form.rollout_button.click()
    assert form.rollout_task is not None
    await form.rollout_task
    assert form.errors.value == "", form.errors.value
    result = form.result
    assert result is not None and "held_for_rollout" not in result.counts()
    assert "winner:" in text(form.rollout_result.value)
    # The 100 held rows got the winner's text once; nobody of the test got a second SMS.
    counts = [m.number for m in sb.accepted]
    assert len(counts) == 180 and len(set(counts)) == 180
    assert form.rollout_button.disabled  # nothing left to roll out
