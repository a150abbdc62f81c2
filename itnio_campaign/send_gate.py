"""When the form's **Send** may send, and how many: plain state, testable without widgets.

The form (:class:`~itnio_campaign.widgets.CampaignForm`) only shows what this decides:

* Send needs a dry run of exactly the current settings (``key``), the confirmation ticked,
  credentials, and no campaign already being sent.
* A plan that was already (partly) sent from the form's ledger folder is *continued*: Send
  sends only those not sent yet. Sending it to everyone again is an explicit choice.
* A plan sent by this form without a ledger cannot be continued: only "send again" sends it.

>>> gate = SendGate(has_credentials=True)
>>> gate.planned(("Hi", "phone"), ready=3)
>>> gate.can_send(("Hi", "phone"), confirmed=True), gate.to_send()
(True, 3)
>>> gate.can_send(("Hi!", "phone"), confirmed=True)   # the message changed since the dry run
False
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

Key = tuple[Hashable, ...]


@dataclass(frozen=True)
class EarlierCampaign:
    """An earlier campaign of the same plan that Send continues."""

    ledger: Path | None  # None: sent by this form without a ledger (cannot be continued)
    left_to_send: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.ledger.name if self.ledger is not None else "this form, without a ledger"


def find_earlier_campaign(ledger_dir: Path | None, fingerprint: str) -> EarlierCampaign | None:
    """The newest campaign of the plan ``fingerprint`` in ``ledger_dir`` that sent anything.

    >>> find_earlier_campaign(None, "abc") is None
    True
    """
    if ledger_dir is None:
        return None
    from .recovery import load_campaign, sent_ledgers

    earlier = sent_ledgers(ledger_dir, fingerprint)
    if not earlier:
        return None
    previous = load_campaign(earlier[0])
    return EarlierCampaign(
        earlier[0], int(previous.remaining().get("pending", 0)), previous.counts()
    )


@dataclass
class SendGate:
    """The send gate's state: the last dry run, the campaign it continues, busy or not."""

    has_credentials: bool = False
    planned_key: Key | None = None
    ready: int = 0
    busy: bool = False
    earlier: EarlierCampaign | None = None
    #: Fingerprints of plans this form sent (for a form without a ledger folder).
    sent: set[str] = field(default_factory=set)

    def planned(self, key: Key, ready: int, *, earlier: EarlierCampaign | None = None) -> None:
        """A dry run of the settings ``key`` found ``ready`` recipients."""
        self.planned_key, self.ready, self.earlier = key, ready, earlier

    def clear(self) -> None:
        """The dry run failed or no longer counts."""
        self.planned_key = None

    def current(self, key: Key) -> bool:
        """True when the last dry run was of exactly the settings ``key``."""
        return self.planned_key is not None and self.planned_key == key

    def to_send(self, send_again: bool = False) -> int:
        """How many SMS Send would send: the ready rows, or, continuing an earlier campaign,
        the ones it has not sent yet (none for a campaign sent without a ledger)."""
        if self.earlier is not None and not send_again:
            return self.earlier.left_to_send
        return self.ready

    def can_confirm(self, key: Key, send_again: bool = False) -> bool:
        return (
            self.current(key)
            and self.to_send(send_again) > 0
            and self.has_credentials
            and not self.busy
        )

    def can_send(self, key: Key, confirmed: bool, send_again: bool = False) -> bool:
        return confirmed and self.can_confirm(key, send_again)

    def refusal(self, key: Key, confirmed: bool, send_again: bool = False) -> str | None:
        """Why Send would not send now, in the user's words (None: it may)."""
        if not self.current(key):
            return "Run the dry run with the current settings first."
        if not confirmed:
            return "Tick the confirmation to send."
        if self.busy:
            return "A campaign is being sent; stop it or wait."
        if not self.has_credentials:
            return "No credentials: the dry run works, sending needs them."
        if self.to_send(send_again) == 0:
            return "Nobody is left to send in this campaign."
        return None

    def start(self, fingerprint: str) -> None:
        """Sending begins: sending again needs a new dry run and confirmation."""
        self.busy = True
        self.sent.add(fingerprint)
        self.planned_key = None

    def finish(self) -> None:
        self.busy = False


__all__ = ["EarlierCampaign", "SendGate", "find_earlier_campaign"]
