"""The form's send gate as plain state: no widgets, no event loop."""

from __future__ import annotations

from pathlib import Path

from itnio_campaign.send_gate import EarlierCampaign, SendGate
from itnio_campaign.widgets import campaign_words

KEY = ("phone", "Hi {name}")


def test_send_needs_a_current_dry_run_confirmation_and_credentials() -> None:
    gate = SendGate(has_credentials=True)
    assert gate.refusal(KEY, confirmed=True) == "Run the dry run with the current settings first."
    gate.planned(KEY, ready=10)
    assert gate.refusal(KEY, confirmed=False) == "Tick the confirmation to send."
    assert gate.can_send(KEY, confirmed=True) and gate.to_send() == 10
    assert not gate.can_send(("phone", "Hi {name}!"), confirmed=True)
    gate.has_credentials = False
    assert not gate.can_confirm(KEY) and "credentials" in (gate.refusal(KEY, True) or "")


def test_sending_blocks_a_second_send_and_needs_a_new_dry_run() -> None:
    gate = SendGate(has_credentials=True)
    gate.planned(KEY, ready=10)
    gate.start("fp1")
    assert gate.busy and not gate.can_send(KEY, confirmed=True)
    assert gate.sent == {"fp1"}
    gate.finish()
    assert not gate.can_send(KEY, confirmed=True)  # the dry run was used up
    gate.planned(KEY, ready=10)
    assert gate.can_send(KEY, confirmed=True)


def test_an_earlier_campaign_is_continued_and_sending_to_everyone_is_explicit() -> None:
    gate = SendGate(has_credentials=True)
    earlier = EarlierCampaign(Path("c.sqlite"), left_to_send=4, counts={"submitted": 6})
    gate.planned(KEY, ready=10, earlier=earlier)
    assert gate.to_send() == 4 and gate.to_send(send_again=True) == 10
    done = EarlierCampaign(Path("c.sqlite"), left_to_send=0, counts={"submitted": 10})
    gate.planned(KEY, ready=10, earlier=done)
    assert not gate.can_confirm(KEY)
    assert gate.refusal(KEY, True) == "Nobody is left to send in this campaign."
    assert gate.can_send(KEY, confirmed=True, send_again=True)


def test_a_plan_sent_without_a_ledger_can_only_be_sent_again_to_everyone() -> None:
    gate = SendGate(has_credentials=True)
    gate.planned(KEY, ready=10, earlier=EarlierCampaign(None))
    assert not gate.can_confirm(KEY)
    assert gate.can_confirm(KEY, send_again=True)
    note, label = campaign_words(EarlierCampaign(None), 0, False)
    assert "cannot continue it" in note and label == "Nothing to continue"


def test_campaign_words_name_the_ledger_and_what_is_left() -> None:
    earlier = EarlierCampaign(Path("runs/c.sqlite"), 4, {"submitted": 6, "pending": 4})
    note, label = campaign_words(earlier, 4, False)
    assert "c.sqlite" in note and "submitted 6" in note and label == "Send the 4 not sent yet"
    note, label = campaign_words(earlier, 10, True)
    assert "also those who already got it" in note and label == "Send 10 SMS again to everyone"
