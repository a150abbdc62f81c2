"""CampaignForm without a browser: set values, click buttons, read what the widgets show.

Sends go to a real sandbox on loopback, on the test's own event loop: the form starts its
send as a task on the running loop and the test awaits ``form.sending_task``.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.config import Credentials
from itnio_campaign.sandbox import Sandbox
from itnio_campaign.widgets import (
    CampaignForm,
    content_stats,
    guess_number_column,
    read_suppression_file,
)


def contacts(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [f"Cust{i}" for i in range(n)],
            "mobile": [f"+91 98{i:08d}" for i in range(n)],
            "store": ["Pune"] * n,
        }
    )


def api(i: int) -> str:
    return f"9198{i:08d}"


def accepted_numbers(sb: Sandbox) -> Counter[str]:
    """How many times the sandbox accepted each number (and no orderId twice)."""
    assert set(sb.accept_counts().values()) <= {1}
    return Counter(m.number for m in sb.accepted)


def make_form(df: pd.DataFrame, sb: Sandbox | None, tmp_path: Path, **kw: object) -> CampaignForm:
    creds = sb.credentials if sb is not None else None
    return CampaignForm(
        df, creds, ledger_dir=tmp_path / "ledgers", report_dir=tmp_path / "reports",
        client_settings=FAST_SETTINGS, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def text(html_value: str) -> str:
    """Visible text of an HTML widget's value (tags dropped, entities left alone)."""
    return re.sub(r"<[^>]+>", " ", html_value)


async def dry_run(form: CampaignForm) -> None:
    form.dry_run_button.click()
    if form.balance_task is not None:
        await form.balance_task


# --- helpers ------------------------------------------------------------------------------
def test_guess_number_column_by_name_then_by_values() -> None:
    assert guess_number_column(contacts()) == "mobile"
    by_values = pd.DataFrame({"who": ["Ann", "Raj"], "x": ["98765 43210", "+91-98765-43211"]})
    assert guess_number_column(by_values) == "x"


def test_content_stats_plain_and_over_rendered_rows() -> None:
    df = pd.DataFrame({"name": ["Ann", "Zoë", "ą" * 70, "Bob"]})
    assert content_stats("Hello", df).describe() == "5 characters · GSM-7 · 1 segment"
    assert content_stats("Привет", df).describe() == "6 characters · UCS-2 · 1 segment"
    stats = content_stats("Hi {name}", df)
    assert (stats.min_segments, stats.max_segments) == (1, 2)
    assert stats.ucs2_share == pytest.approx(0.5)  # "Zoë" and "ą…" leave GSM-7
    assert "1–2 segments, UCS-2 for 50% of rows" in stats.describe()
    assert content_stats("Hi {nmae}", df).unknown == ("nmae",)
    assert "malformed" in content_stats("Hi {name", df).describe()


def test_read_suppression_file_with_and_without_header() -> None:
    assert read_suppression_file("a.csv", b"phone,why\n+919800000001,stop\n") == ["+919800000001"]
    assert read_suppression_file("b.csv", b"919800000001\n919800000002\n") == [
        "919800000001",
        "919800000002",
    ]


def test_docstring_examples() -> None:
    import doctest

    import itnio_campaign.widgets as module

    assert doctest.testmod(module).failed == 0


# --- typing into the form -----------------------------------------------------------------
def test_form_displays_itself_and_guesses_the_number_column(tmp_path: Path) -> None:
    form = make_form(contacts(), None, tmp_path)
    bundle = form._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert form.number_col.value == "mobile"
    assert form.plan is None and form.result is None


def test_counter_follows_the_text_as_typed(tmp_path: Path) -> None:
    form = make_form(contacts(), None, tmp_path)
    form.content.value = "Hello"
    assert "5 characters · GSM-7 · 1 segment" in text(form.counter.value)
    form.content.value = "Hello 😀"
    assert "UCS-2" in text(form.counter.value)
    form.content.value = "x" * 161
    assert "2 segments" in text(form.counter.value)


def test_placeholder_buttons_insert_and_unknown_ones_are_flagged(tmp_path: Path) -> None:
    form = make_form(contacts(), None, tmp_path)
    form.content.value = "Hi"
    button = next(b for b in form.placeholder_buttons if b.description == "{name}")
    button.click()
    assert form.content.value == "Hi {name}"
    assert "Hi Cust0" in form.preview.value and "Hi Cust1" in form.preview.value
    assert form.placeholder_note.value == ""
    form.content.value = "Hi {nmae}"
    assert "{nmae}" in text(form.placeholder_note.value)
    assert form.preview.value == ""


def test_sender_id_is_validated_as_typed(tmp_path: Path) -> None:
    form = make_form(contacts(), None, tmp_path)
    form.sender_id.value = "S" * 33
    assert "at most 32" in text(form.sender_note.value)
    form.sender_id.value = "SHOP"
    assert form.sender_note.value == ""


# --- dry run and the gate to Send -----------------------------------------------------------
async def test_order_id_column_is_passed_on(sb: Sandbox, tmp_path: Path) -> None:
    df = contacts(2).assign(ref=["A-1", "B-2"])
    form = make_form(df, sb, tmp_path)
    assert form.order_id_col.value == ""  # "(none: generated)"
    form.order_id_col.value = "ref"
    form.content.value = "Hello"
    await dry_run(form)
    form.confirm.value = True
    form.send()
    assert form.sending_task is not None
    await form.sending_task
    assert sb.accept_counts() == Counter({"A-1": 1, "B-2": 1})


async def test_send_needs_a_matching_dry_run_and_the_confirmation(
    sb: Sandbox, tmp_path: Path
) -> None:
    form = make_form(contacts(3), sb, tmp_path)
    form.content.value = "Hi {name}"
    assert form.send_button.disabled and form.confirm.disabled
    form.send()  # the method refuses too, not only the disabled button
    assert form.sending_task is None
    assert "dry run" in text(form.errors.value)

    await dry_run(form)
    assert form.confirm.description == "Send 3 SMS now"
    assert not form.confirm.disabled and form.send_button.disabled
    form.send()
    assert form.sending_task is None and "confirmation" in text(form.errors.value)

    form.confirm.value = True
    assert not form.send_button.disabled
    form.content.value = "Hi {name}!"  # any change invalidates the dry run
    assert form.confirm.value is False and form.confirm.disabled and form.send_button.disabled
    assert "run the dry run again" in text(form.summary.value)
    form.send()
    assert form.sending_task is None
    assert accepted_numbers(sb) == Counter()

    await dry_run(form)
    form.confirm.value = True
    form.send_button.click()
    assert form.sending_task is not None
    await form.sending_task
    assert accepted_numbers(sb) == Counter({api(i): 1 for i in range(3)})
    assert {m.content for m in sb.accepted} == {f"Hi Cust{i}!" for i in range(3)}


async def test_dry_run_shows_summary_balance_and_skipped_rows(sb: Sandbox, tmp_path: Path) -> None:
    df = contacts(4)
    df.loc[1, "mobile"] = "12345"  # invalid
    df.loc[3, "mobile"] = df.loc[0, "mobile"]  # duplicate
    form = make_form(df, sb, tmp_path, prices="0.005")
    form.content.value = "Hi {name}"
    await dry_run(form)
    summary = text(form.summary.value)
    for words in ("ready", "skipped_invalid", "skipped_duplicate", "requests", "segments",
                  "estimated cost", "available", "enough balance"):  # fmt: skip
        assert words in summary, words
    skipped = text(form.skipped.value)
    assert "Skipped rows (2)" in skipped
    assert "skipped_invalid" in skipped and "skipped_duplicate" in skipped
    assert "12345" in skipped  # what the user typed, next to the reason
    assert form.confirm.description == "Send 2 SMS now"


async def test_upload_suppresses_numbers_and_invalidates(sb: Sandbox, tmp_path: Path) -> None:
    form = make_form(contacts(3), sb, tmp_path)
    form.content.value = "Hello"
    await dry_run(form)
    form.confirm.value = True
    form.upload.value = (
        {
            "name": "optout.csv",
            "type": "text/csv",
            "size": 25,
            "content": memoryview(b"phone\n+919800000001\n"),
            "last_modified": datetime.now(UTC),
        },
    )
    assert "uploaded list (1 entry read, 1 valid number)" in text(form.suppress_note.value)
    assert form.confirm.value is False and form.send_button.disabled
    await dry_run(form)
    assert "skipped_suppressed" in text(form.skipped.value)
    # The dry run says what the list did (issue 11: API, CLI and form alike).
    assert "1 entry read, 1 valid number, removed 1 row" in text(form.summary.value)
    form.confirm.value = True
    form.send()
    assert form.sending_task is not None
    await form.sending_task
    assert accepted_numbers(sb) == Counter({api(0): 1, api(2): 1})


async def test_optouts_from_replies_are_suppressed(sb: Sandbox, tmp_path: Path) -> None:
    sb.add_reply(api(1), "STOP")
    form = make_form(contacts(3), sb, tmp_path)
    form.content.value = "Hello"
    form.use_optouts.click()
    assert form.optout_task is not None
    await form.optout_task
    assert "1 opt-outs from replies" in text(form.suppress_note.value)
    await dry_run(form)
    assert "skipped_suppressed" in text(form.skipped.value)


# --- sending, stopping, after -----------------------------------------------------------------
async def test_send_progress_result_delivery_and_export(sb: Sandbox, tmp_path: Path) -> None:
    form = make_form(contacts(5), sb, tmp_path)
    form.content.value = "Hi {name}, see you at {store}"
    await dry_run(form)
    form.confirm.value = True
    seen: list[int] = []
    form.progress.observe(lambda ch: seen.append(ch["new"]), names="value")
    form.send_button.click()
    assert form.stop_button.disabled is False and form.send_button.disabled
    assert form.sending_task is not None
    await form.sending_task

    assert accepted_numbers(sb) == Counter({api(i): 1 for i in range(5)})
    assert form.progress.value == form.progress.max == 5 and seen[-1] == 5
    assert form.result is not None and form.result.status == "completed"
    assert "Campaign completed" in text(form.result_html.value)
    assert "No failures" in text(form.failures.value)
    assert form.stop_button.disabled and not form.export_button.disabled
    assert form.ledger_path is not None and form.ledger_path.is_file()
    assert form.ledger_path.parent == tmp_path / "ledgers"
    # The same plan again continues this campaign: nobody is left, so Send stays off unless
    # the user explicitly chooses to send again to everyone.
    assert form.confirm.disabled and form.send_button.disabled
    await dry_run(form)
    assert form.confirm.description == "Send the 0 not sent yet" and form.confirm.disabled
    assert "already sent from" in text(form.campaign_note.value)
    form.send_again.value = True
    assert form.confirm.description == "Send 5 SMS again to everyone"
    assert not form.confirm.disabled
    form.send_again.value = False

    sb.settle_all()
    form.refresh_button.click()
    assert form.delivery_task is not None
    await form.delivery_task
    states = form.result.frame["state"].value_counts().to_dict()
    assert sum(states.get(s, 0) for s in ("delivered", "undelivered")) == 5

    form.export_button.click()
    assert form.report_path is not None and form.report_path.is_file()
    link = form.download.value
    assert f'download="{form.report_path.name}"' in link
    payload = link.split("base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(payload) == form.report_path.read_bytes()


async def test_stop_sends_no_new_requests(sb: Sandbox, tmp_path: Path) -> None:
    form = make_form(contacts(2500), sb, tmp_path, concurrency=1)  # 3 requests of ≤1000
    form.content.value = "Hello"
    await dry_run(form)
    form.confirm.value = True

    def stop_after_first_request(change: dict[str, object]) -> None:
        if change["new"]:
            form.stop_button.click()

    form.progress.observe(stop_after_first_request, names="value")
    form.send_button.click()
    assert form.sending_task is not None
    await form.sending_task
    assert form.result is not None and form.result.status == "stopped"
    accepted = accepted_numbers(sb)
    assert 0 < sum(accepted.values()) < 2500
    assert set(accepted.values()) == {1}
    assert sum(accepted.values()) == form.progress.value
    assert "Campaign stopped" in text(form.result_html.value)
    assert "pending" in text(form.failures.value)


# --- errors in plain words ------------------------------------------------------------------
async def test_bad_credentials_are_shown_without_secret_or_traceback(
    sb: Sandbox, tmp_path: Path
) -> None:
    secret = "very-secret-value-42"
    creds = Credentials("wrong-key", secret, sb.credentials.app_id, base_url=sb.url)
    form = CampaignForm(contacts(2), creds, ledger_dir=tmp_path, client_settings=FAST_SETTINGS)
    form.content.value = "Hello"
    await dry_run(form)
    assert "authentication" in text(form.errors.value)
    form.confirm.value = True
    form.send()
    assert form.sending_task is not None
    await form.sending_task
    assert form.result is not None and form.result.status == "halted"
    assert accepted_numbers(sb) == Counter()
    shown = form.errors.value + form.result_html.value + form.failures.value
    assert "halted" in text(form.errors.value) and "authentication" in shown
    assert secret not in shown and "Traceback" not in shown


def test_missing_env_credentials_leave_a_usable_dry_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("ITNIO_API_KEY", "ITNIO_API_SECRET", "ITNIO_APP_ID", "ITNIO_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    form = CampaignForm(contacts(2))
    assert "missing credentials" in text(form.errors.value)
    form.content.value = "Hello"
    form.dry_run_button.click()
    assert form.plan is not None and "ready" in text(form.summary.value)
    assert form.confirm.disabled and form.send_button.disabled


def test_bad_input_is_reported_in_the_form(tmp_path: Path) -> None:
    form = make_form(contacts(2), None, tmp_path)
    form.content.value = ""
    form.dry_run_button.click()
    assert "Dry run failed" in text(form.errors.value)
    assert form.plan is None and form.confirm.disabled
    form.content.value = "Hi"
    form.region.value = "XX"
    assert "unknown region" in text(form.sender_note.value)
    form.dry_run_button.click()
    assert "unknown region" in text(form.errors.value) and form.plan is None


def test_counter_names_what_costs_money_and_one_click_replaces_it(tmp_path: Path) -> None:
    df = contacts(4).assign(store=["Pune", "Goa", "Café—Mumbai", "Delhi"])
    form = make_form(df, None, tmp_path)
    assert form.smart_button.layout.display == "none"  # nothing to replace yet
    form.content.value = "Hi {name}, don’t miss {store}!"
    counter = text(form.counter.value)
    assert "RIGHT SINGLE QUOTATION MARK" in counter and "EM DASH" in counter
    assert "<mark>’</mark>" in form.preview.value  # highlighted where it is
    assert form.smart_button.layout.display != "none"
    form.smart_button.click()
    assert form.content.value == "Hi {name}, don't miss {store}!"
    assert "QUOTATION MARK" not in text(form.counter.value)
    assert "EM DASH" in text(form.counter.value)  # comes from a row's value, not the template
    long_name = contacts(3).assign(name=["Ann", "B" * 200, "Cy"])
    histo = make_form(long_name, None, tmp_path)
    histo.content.value = "Hi {name}"
    assert "Segments per message" in text(histo.counter.value)
    assert "2 segments: 1" in text(histo.counter.value)


async def test_smart_encoding_tick_reaches_the_plan_and_its_values(
    sb: Sandbox, tmp_path: Path
) -> None:
    df = contacts(2).assign(store=["Café—Mumbai", "Goa"])
    form = make_form(df, sb, tmp_path)
    form.content.value = "Hi {name} at {store}"
    await dry_run(form)
    assert form.plan.recipients["encoding"].iloc[0] == "UCS-2"
    form.smart_encoding.value = True  # a setting: the dry run must be run again
    assert form.confirm.disabled
    await dry_run(form)
    assert form.plan.recipients["content"].iloc[0] == "Hi Cust0 at Café-Mumbai"
    assert form.plan.recipients["encoding"].iloc[0] == "GSM-7"


async def test_test_send_panel_catches_a_refused_template(tmp_path: Path) -> None:
    knobs = {"delivery_delay": (0.0, 0.0), "reply_rate": 0.0, "undelivered_rate": 0.0}
    async with Sandbox(seed=2, refuse_content={"flash sale": "-6"}, **knobs) as sb:
        form = make_form(contacts(5), sb, tmp_path)
        form.content.value = "Hi {name}, flash sale at {store}!"
        form.test_send()
        assert "dry run" in text(form.errors.value) and form.test_task is None
        await dry_run(form)
        form.seeds.value = "+91 98765 43210"
        form.test_button.click()
        assert form.test_task is not None
        await form.test_task
        shown = text(form.test_result.value)
        assert "Test not passed" in shown and "-6" in shown
        assert sb.number_counts() == Counter()  # refused: nobody, and no recipient, got it


async def test_trial_fields_change_the_send_label_and_send_a_gated_trial(
    tmp_path: Path,
) -> None:
    knobs = {"delivery_delay": (0.0, 0.0), "reply_rate": 0.0, "undelivered_rate": 0.0}
    async with Sandbox(seed=2, **knobs) as sb:
        form = make_form(contacts(200), sb, tmp_path)
        form.content.value = "Hello {name}"
        await dry_run(form)
        form.trial.value = "10%"
        assert form.confirm.description == "Send trial (10%), then the rest if ≥ 90% delivered"
        form.gate_rule.value = "delivered>=nonsense"
        assert "Trial:" in text(form.campaign_note.value)
        form.gate_rule.value = "delivered>=90%"
        form.confirm.value = True
        form.send_button.click()
        await form.sending_task  # type: ignore[misc]
        assert form.result is not None and form.result.status == "completed"
        assert "gate" in (form.result.notice or "")
        assert (
            set(accepted_numbers(sb).values()) == {1} and sum(accepted_numbers(sb).values()) == 200
        )
