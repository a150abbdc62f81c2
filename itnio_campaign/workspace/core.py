"""The workspace: the memory of every campaign (opt-outs, contact history, caps).

This module holds the :class:`Workspace` itself; :mod:`itnio_campaign.workspace` exports it
with crash repair on open (re-recording campaigns whose ledger moved on since they were last
recorded). The campaign layer (plan, recovery) uses this module directly.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..models import (
    ACCEPTED_STATES,
    DELIVERED,
    MAX_REPORT_IDS,
    SENDING,
    SKIPPED_ALREADY_SENT,
    SKIPPED_FREQUENCY_CAP,
    SKIPPED_OPTED_OUT,
    SUBMITTED,
    UNDELIVERED,
    UNKNOWN,
    Reply,
)
from ..numbers import check_region, normalize_number
from ..suppression import read_suppression
from . import history_store
from .backend import Backend, WorkspaceError, row_lock
from .caps import (
    content_hashes,
    describe_guard,
    number_ints,
    parse_frequency_cap,
    parse_repeat_guard,
)
from .connect import open_backend
from .keywords import LANGUAGES, Keywords
from .matching import RecentSends

if TYPE_CHECKING:
    from ..result import CampaignResult

#: States of a recipient the history keeps: the provider took the SMS, or may have.
RECORDED_STATES = (*ACCEPTED_STATES, UNKNOWN)
#: The first sync of replies looks this many days back.
FIRST_SYNC_DAYS = 30
#: Each sync looks this far behind the newest reply already seen (replies listed late).
SYNC_OVERLAP_S = 3600.0
#: Delivery refreshes ask about messages sent within this many days.
DELIVERY_DAYS = 7
#: The campaign that holds sends back-filled from getSentRcd (made outside the toolkit).
IMPORTED_KEY = "import:getSentRcd"
IMPORTED_NAME = "sent outside the toolkit (getSentRcd)"

HISTORY_COLUMNS = ("number", "campaign", "content_hash", "sent_at", "state", "msg_id")
OPTOUT_COLUMNS = ("number", "source", "reason", "opted_out_at")
REVIEW_COLUMNS = ("id", "number", "text", "received_at", "keyword")
CAMPAIGN_COLUMNS = (
    "campaign_id", "name", "fingerprint", "ledger", "started_at", "finished_at", "recipients",
    "sent", "delivered", "undelivered", "status", "recorded_at",
)  # fmt: skip


@dataclass(frozen=True)
class SyncReport:
    """What a sync did; ``str()`` is one line.

    ``fetched`` replies were read, ``seen_before`` of them already applied by an earlier
    sync; ``opted_out``/``opted_in`` numbers changed; ``to_review`` replies went to the review
    list (``ws.optout_review()``); ``delivery_updated`` history rows got a final state.
    """

    fetched: int = 0
    opted_out: int = 0
    opted_in: int = 0
    to_review: int = 0
    seen_before: int = 0
    delivery_updated: int = 0

    def __str__(self) -> str:
        text = (
            f"replies: {self.fetched:,} fetched ({self.seen_before:,} seen before), "
            f"{self.opted_out:,} opted out, {self.opted_in:,} opted back in, "
            f"{self.to_review:,} to review"
        )
        return text + f"; delivery: {self.delivery_updated:,} updated"


class Workspace:
    """The memory of all campaigns: opt-outs, contact history and frequency caps.

    ``location``: a file path (SQLite, created on first use) or a ``postgresql://`` URL
    (psycopg 3; ``pip install 'itnio-campaign[postgres]'``); ``None`` uses
    ``$ITNIO_WORKSPACE``, else ``./itnio-workspace.sqlite``. ``keywords`` are the reply words
    that opt out and back in (:class:`~itnio_campaign.workspace.keywords.Keywords`, e.g.
    ``Keywords.for_languages("fr", "es")``). Raises :class:`WorkspaceError` for a file that is
    not a workspace, another schema version, or an unreachable server.

    Example::

        ws = Workspace("team.sqlite")
        ws.add_optouts("crm_optouts.csv", source="crm-export")
        plan = plan_campaign(df, content="Hi {name}", workspace=ws, frequency_cap="1/24h")
        print(await ws.sync(client))
    """

    def __init__(
        self, location: str | os.PathLike[str] | None = None, *, keywords: Keywords | None = None
    ) -> None:
        self._db: Backend = open_backend(location)
        try:  # the team's reply languages live in the workspace, so every analyst applies them
            self.keywords = keywords or self._stored_keywords()
        except WorkspaceError:
            self._db.close()
            raise

    def _stored_keywords(self) -> Keywords:
        unknown = [code for code in self.reply_languages if code not in LANGUAGES]
        if unknown:  # a STOP in a language we cannot read must not pass unnoticed
            raise WorkspaceError(
                f"the workspace {self.location} applies reply keywords in {', '.join(unknown)}, "
                "which this itnio-campaign does not know: upgrade it (pip install -U "
                "itnio-campaign)"
            )
        return Keywords.for_languages(*self.reply_languages)

    # -- basics ----------------------------------------------------------------------------
    @property
    def location(self) -> str:
        """Where the workspace is: a path, or a URL with the password masked."""
        return self._db.location

    @property
    def kind(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.kind

    def __repr__(self) -> str:
        return f"<Workspace {self.location}>"

    def close(self) -> None:
        self._db.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close` (sending opens the workspace again from its location)."""
        return self._db.closed

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _meta(self, key: str) -> str | None:
        rows = self._db.query("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0][0] if rows else None

    def _set_meta(self, cur: Any, key: str, value: str) -> None:
        cur.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    # -- opt-outs --------------------------------------------------------------------------
    def add_optouts(
        self,
        numbers_or_file: Any,
        source: str = "manual",
        default_region: str = "IN",
        *,
        reason: str | None = None,
    ) -> int:
        """Opt numbers out; return how many were not opted out before.

        ``numbers_or_file`` is anything :func:`~itnio_campaign.suppression.read_suppression`
        reads: a CSV/XLSX path, a string of numbers, a list/Series/DataFrame. Numbers are
        kept in API form, so ``"+91 98765 43210"`` and ``"919876543210"`` are one person.

        >>> ws = Workspace(":memory:")
        >>> ws.add_optouts(["+91 98765 43210", "919876543210"], source="crm-export")
        1
        """
        source = _check_text(source, "source")
        numbers = sorted(_read_numbers(numbers_or_file, default_region, "add_optouts"))
        now = time.time()
        with self._db.transaction() as cur:
            before = _count(cur, "optouts")
            cur.executemany(
                "INSERT INTO optouts(number, source, reason, opted_out_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(number) DO NOTHING",
                [(n, source, reason, now) for n in numbers],
            )
            return _count(cur, "optouts") - before

    def remove_optouts(self, numbers: Any, default_region: str = "IN") -> int:
        """Opt numbers back in (e.g. a mistaken import); return how many were opted out.

        >>> ws = Workspace(":memory:"); _ = ws.add_optouts("919876543210")
        >>> ws.remove_optouts("+91 98765 43210"), ws.is_opted_out("919876543210")
        (1, False)
        """
        wanted = sorted(_read_numbers(numbers, default_region, "remove_optouts"))
        with self._db.transaction() as cur:
            before = _count(cur, "optouts")
            cur.executemany("DELETE FROM optouts WHERE number=?", [(n,) for n in wanted])
            return before - _count(cur, "optouts")

    remove = remove_optouts

    def optouts(self) -> pd.DataFrame:
        """Every opt-out: number, source, reason, opted_out_at (UTC)."""
        rows = self._db.query(
            "SELECT number, source, reason, opted_out_at FROM optouts ORDER BY opted_out_at, number"
        )
        frame = pd.DataFrame(rows, columns=list(OPTOUT_COLUMNS))
        frame["opted_out_at"] = _times(frame["opted_out_at"])
        return frame

    def is_opted_out(self, number: Any, default_region: str = "IN") -> bool:
        """True when ``number`` (any written form) is opted out."""
        numbers = _read_numbers([number], default_region, "is_opted_out")
        if not numbers:
            return False
        (n,) = numbers
        return bool(self._db.query("SELECT 1 FROM optouts WHERE number=?", (n,)))

    def optout_review(self) -> pd.DataFrame:
        """Replies holding a keyword inside a longer text, awaiting a decision:
        id, number, text, received_at, keyword. Decide with :meth:`resolve_review`."""
        rows = self._db.query(
            "SELECT id, number, text, received_at, keyword FROM review WHERE status='open' "
            "ORDER BY received_at, id"
        )
        frame = pd.DataFrame(rows, columns=list(REVIEW_COLUMNS))
        frame["received_at"] = _times(frame["received_at"])
        return frame

    def review_count(self) -> int:
        """How many replies await review."""
        return int(self._db.query("SELECT count(*) FROM review WHERE status='open'")[0][0])

    def resolve_review(self, review_id: int, action: Literal["opt_out", "dismiss"]) -> None:
        """Decide one reply of :meth:`optout_review`: ``"opt_out"`` opts its number out,
        ``"dismiss"`` drops it. Raises UsageError for an unknown id or action."""
        if action not in ("opt_out", "dismiss"):
            raise UsageError(f"action must be 'opt_out' or 'dismiss', not {action!r}")
        with self._db.transaction() as cur:
            cur.execute(
                "SELECT number, text, received_at FROM review WHERE id=? AND status='open'",
                (int(review_id),),
            )
            row = cur.fetchone()
            if row is None:
                raise UsageError(f"no reply {review_id!r} awaits review (see ws.optout_review())")
            number, text, received_at = row
            if action == "opt_out":
                cur.execute(
                    "INSERT INTO optouts(number, source, reason, opted_out_at) "
                    "VALUES (?, 'reply (reviewed)', ?, ?) ON CONFLICT(number) DO NOTHING",
                    (number, f"replied {_quote(text)}", received_at or time.time()),
                )
            cur.execute(
                "UPDATE review SET status=?, resolved_at=? WHERE id=?",
                ("opted_out" if action == "opt_out" else "dismissed", time.time(),
                 int(review_id)),
            )  # fmt: skip

    # -- replies and delivery --------------------------------------------------------------
    async def sync_replies(
        self, client: Any, *, since: datetime | None = None, now: datetime | None = None
    ) -> SyncReport:
        """Fetch replies (``recordMo``) since the last sync and apply the keywords.

        The first sync reads the last 30 days (or from ``since``); later ones start a little
        before the newest reply already seen, and replies seen before are skipped, so running
        it twice changes nothing.
        """
        end = now or datetime.now(UTC)
        if since is None:
            mark = self._meta("mo_high_water")
            since = (
                datetime.fromtimestamp(float(mark) - SYNC_OVERLAP_S, UTC)
                if mark
                else end - timedelta(days=FIRST_SYNC_DAYS)
            )
        replies = [r async for r in client.iter_mo_records(since, end)]
        return self.apply_replies(replies)

    def apply_replies(self, replies: Iterable[Reply]) -> SyncReport:
        """Apply replies (oldest first): an exact opt-out keyword opts the number out, an
        opt-in keyword opts it back in, a keyword inside a longer text goes to review.
        Replies applied before are skipped."""
        rows = sorted(replies, key=lambda r: _epoch(r.receive_time) or 0.0)
        fetched = seen = 0
        done: Counter[str] = Counter()  # action -> replies that changed something
        newest: float | None = None
        with self._db.transaction() as cur:
            for reply in rows:
                fetched += 1
                at = _epoch(reply.receive_time)
                newest = at if newest is None or (at is not None and at > newest) else newest
                number = re.sub(r"\D", "", reply.number)
                if not number:
                    continue
                action = self.keywords.classify(reply.content)
                key = _reply_key(number, at, reply.content)
                cur.execute(
                    "INSERT INTO replies(reply_key, number, received_at, content, action) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(reply_key) DO NOTHING",
                    (key, number, at, reply.content, action or "none"),
                )
                if _rowcount(cur) == 0:
                    seen += 1
                    continue
                done[action] += self._act(cur, action, key, number, at, reply.content)
            if newest is not None:
                old = cur.execute("SELECT value FROM meta WHERE key='mo_high_water'")
                row = cur.fetchone() if old is not None else None
                if row is None or float(row[0]) < newest:
                    self._set_meta(cur, "mo_high_water", repr(newest))
        return SyncReport(fetched, done["opt_out"], done["opt_in"], done["review"], seen)

    def _act(
        self, cur: Any, action: str, key: str, number: str, at: float | None, content: str
    ) -> int:
        """Carry out one reply's ``action``; 1 if it changed something."""
        when = at if at is not None else time.time()
        if action == "opt_out":
            cur.execute(
                "INSERT INTO optouts(number, source, reason, opted_out_at) "
                "VALUES (?, 'reply', ?, ?) ON CONFLICT(number) DO NOTHING",
                (number, f"replied {_quote(content)}", when),
            )
        elif action == "opt_in":
            cur.execute("DELETE FROM optouts WHERE number=? AND opted_out_at <= ?", (number, when))
        elif action == "review":
            cur.execute(
                "INSERT INTO review(reply_key, number, text, received_at, keyword) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(reply_key) DO NOTHING",
                (key, number, content, at, self.keywords.keyword_in(content)),
            )
        else:
            return 0
        return _rowcount(cur)

    # -- reply languages -------------------------------------------------------------------
    @property
    def reply_languages(self) -> tuple[str, ...]:
        """The languages whose keywords this workspace applies to replies, besides English
        (``("fr", "es")``); stored in the workspace, so the whole team shares them."""
        stored = self._meta("reply_languages") or ""
        return tuple(code for code in stored.split(",") if code)

    def set_reply_languages(self, *languages: str) -> SyncReport:
        """Apply the keywords of ``languages`` (``"fr"``, ``"es"``, ...; none: English only)
        from now on, for everyone using this workspace, and to the replies already synced:
        a stored reply that now reads as a keyword (an old "ARRET") is applied as if it had
        just arrived, unless the same number replied a keyword after it.

        >>> ws = Workspace(":memory:"); report = ws.set_reply_languages("fr")
        >>> ws.keywords.classify("Arrêt"), ws.reply_languages
        ('opt_out', ('fr',))
        """
        codes = tuple(dict.fromkeys(str(code).strip().lower() for code in languages))
        keywords = Keywords.for_languages(*codes)  # UsageError for an unknown language
        with self._db.transaction() as cur:
            self._set_meta(cur, "reply_languages", ",".join(codes))
        self.keywords = keywords
        return self.reapply_replies()

    def reapply_replies(self) -> SyncReport:
        """Read the stored replies that meant nothing with the keywords of their day again
        with today's (:attr:`keywords`), oldest first, and carry out what they mean now; a
        reply is left alone when the same number replied an opt-out or opt-in after it."""
        done: Counter[str] = Counter()
        with self._db.transaction() as cur:
            cur.execute(
                "SELECT reply_key, number, received_at, content, action FROM replies "
                "ORDER BY received_at, reply_key"
            )
            rows = cur.fetchall()
            decided_last: dict[str, float] = {}  # number -> time of its last opt-out/in
            for _, number, at, _, action in rows:
                if action in ("opt_out", "opt_in"):
                    decided_last[number] = max(decided_last.get(number, -1e300), at or 0.0)
            for key, number, at, content, action in rows:
                now_means = self.keywords.classify(content)
                if action != "none" or not now_means:
                    continue
                later = decided_last.get(number, -1e300) > (at or 0.0)
                if now_means in ("opt_out", "opt_in") and later:
                    continue  # the number decided again since: that stands
                cur.execute("UPDATE replies SET action=? WHERE reply_key=?", (now_means, key))
                done[now_means] += self._act(cur, now_means, key, number, at, content)
                if now_means in ("opt_out", "opt_in"):
                    decided_last[number] = max(decided_last.get(number, -1e300), at or 0.0)
        return SyncReport(len(rows), done["opt_out"], done["opt_in"], done["review"], 0)

    async def sync_delivery(
        self, client: Any, *, days: float = DELIVERY_DAYS, now: float | None = None
    ) -> int:
        """Ask ``getReport`` about history rows sent in the last ``days`` days whose
        delivery is not final; store the final states; return how many rows changed."""
        now = time.time() if now is None else now
        open_ = history_store.msg_blocks(self._db, now - days * 86400, (SUBMITTED, SENDING))
        ids = list(open_)
        final: dict[str, str] = {}
        for i in range(0, len(ids), MAX_REPORT_IDS):
            report = await client.get_report(ids[i : i + MAX_REPORT_IDS])
            for rec in report.records:
                if rec.msg_id in open_ and rec.status in ("delivered", "undelivered"):
                    final[rec.msg_id] = DELIVERED if rec.status == "delivered" else UNDELIVERED
        if not final:
            return 0
        changed = 0
        with self._db.transaction() as cur:  # read again under the writer lock, then write
            keys = sorted({open_[m] for m in final})
            blocks = history_store.read_blocks(cur, keys, row_lock(self.kind))
            for campaign_id, block, row in blocks:
                cols = history_store.block_columns(row)
                states = cols["state"].copy()
                new = pd.Series(cols["msg_id"]).map(final).to_numpy(dtype=object)
                hit = pd.notna(new) & np.isin(states, (SUBMITTED, SENDING))
                if not hit.any():
                    continue
                states[hit] = new[hit]
                history_store.rewrite_states(cur, campaign_id, block, states)
                cur.execute(
                    "UPDATE campaigns SET delivered=delivered+?, undelivered=undelivered+? "
                    "WHERE campaign_id=?",
                    (int((new[hit] == DELIVERED).sum()), int((new[hit] == UNDELIVERED).sum()),
                     campaign_id),
                )  # fmt: skip
                changed += int(hit.sum())
        return changed

    async def sync(self, client: Any) -> SyncReport:
        """Replies (:meth:`sync_replies`) and delivery (:meth:`sync_delivery`) in one call."""
        replies = await self.sync_replies(client)
        updated = await self.sync_delivery(client)
        return SyncReport(
            replies.fetched, replies.opted_out, replies.opted_in, replies.to_review,
            replies.seen_before, updated,
        )  # fmt: skip

    async def import_sent_records(
        self, client: Any, days: float = 30, *, now: float | None = None
    ) -> int:
        """Back-fill the history with sends made outside the toolkit (the provider's portal)
        from ``getSentRcd`` over the last ``days`` days; return how many rows were added.

        Messages already in the history (same msgId) are skipped, so it can run any number of
        times; record campaigns first (they are, after each send) so they are not counted
        twice. Their content is unknown, so the repeat guard ignores them; caps count them.
        """
        if not isinstance(days, int | float) or isinstance(days, bool) or days <= 0:
            raise UsageError(f"days must be a positive number, not {days!r}")
        now = time.time() if now is None else now
        lo = now - days * 86400
        recent = history_store.read_window(self._db, lo - 86400, ("msg_id",))["msg_id"]
        known = set(recent[pd.notna(recent)].tolist())
        found: dict[str, tuple[int, float, str]] = {}
        start, end = datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(now, UTC)
        async for rec in client.iter_sent_records(start, end):
            if not rec.msg_id or rec.msg_id in known or rec.msg_id in found:
                continue
            digits = re.sub(r"\D", "", rec.number)
            if not digits or len(digits) > 18:
                continue
            state = SUBMITTED if rec.status == "sent" else UNDELIVERED
            found[rec.msg_id] = (int(digits), _epoch(rec.receive_time) or now, state)
        if not found:
            return 0
        with self._db.transaction() as cur:
            campaign_id = self._campaign_row(
                cur, IMPORTED_KEY, IMPORTED_NAME, None, None, started_at=None
            )
            cur.execute("SELECT next_pos FROM campaigns WHERE campaign_id=?", (campaign_id,))
            first = int((cur.fetchone() or (0,))[0])
            rows = sorted(
                (at, first + k, number, 0, state, msg_id)
                for k, (msg_id, (number, at, state)) in enumerate(found.items())
            )
            kinds = {"sent_at": np.float64, "pos": np.int64, "number": np.int64,
                     "content_hash": np.int64, "state": object, "msg_id": object}  # fmt: skip
            columns = {
                name: np.array(values, dtype=kinds[name])
                for name, values in zip(kinds, zip(*rows, strict=True), strict=True)
            }
            history_store.write_blocks(
                cur, campaign_id, columns, history_store.next_block(cur, campaign_id)
            )
            states = [r[4] for r in rows]
            cur.execute(
                "UPDATE campaigns SET next_pos=?, recipients=recipients+?, sent=sent+?, "
                "undelivered=undelivered+?, first_sent_at=coalesce(min(first_sent_at, ?), ?), "
                "last_sent_at=coalesce(max(last_sent_at, ?), ?) WHERE campaign_id=?"
                if self.kind == "sqlite"
                else "UPDATE campaigns SET next_pos=?, recipients=recipients+?, sent=sent+?, "
                "undelivered=undelivered+?, first_sent_at=least(first_sent_at, ?, ?), "
                "last_sent_at=greatest(last_sent_at, ?, ?) WHERE campaign_id=?",
                (first + len(rows), len(rows), len(rows), states.count(UNDELIVERED),
                 rows[0][0], rows[0][0], rows[-1][0], rows[-1][0], campaign_id),
            )  # fmt: skip
        return len(found)

    # -- campaigns and history -------------------------------------------------------------
    def campaigns(self) -> pd.DataFrame:
        """Every campaign recorded: campaign_id, name, fingerprint, ledger, started_at,
        finished_at, recipients, sent, delivered, undelivered, status, recorded_at."""
        rows = self._db.query(f"SELECT {', '.join(CAMPAIGN_COLUMNS)} FROM campaigns "
                              "ORDER BY campaign_id")  # fmt: skip
        frame = pd.DataFrame(rows, columns=list(CAMPAIGN_COLUMNS))
        for col in ("started_at", "finished_at", "recorded_at"):
            frame[col] = _times(frame[col])
        return frame

    def history(self, number: Any, default_region: str = "IN") -> pd.DataFrame:
        """What was sent to ``number`` (any written form), oldest first: number, campaign
        (its name), content_hash, sent_at (UTC), state, msg_id."""
        numbers = _read_numbers([number], default_region, "history")
        value = number_ints(pd.Series(sorted(numbers), dtype=object))
        found = history_store.rows_of_number(
            self._db, int(value[0]) if len(value) and value[0] > 0 else -1
        )
        names = dict(self._db.query("SELECT campaign_id, name FROM campaigns"))
        frame = pd.DataFrame(found)
        frame["campaign"] = frame["campaign_id"].map(names)
        frame = frame.sort_values(["sent_at", "campaign_id", "pos"], kind="stable")
        frame = frame[list(HISTORY_COLUMNS)].reset_index(drop=True)
        frame["number"] = frame["number"].astype(str)
        frame["sent_at"] = _times(frame["sent_at"])
        return frame

    def register_campaign(
        self,
        *,
        ledger: str | os.PathLike[str] | None,
        fingerprint: str | None,
        name: str | None = None,
        started_at: float | None = None,
    ) -> None:
        """Note a campaign before it sends, so a crash before it is recorded is repaired on
        the next open (its ledger is newer than what was recorded)."""
        key = _campaign_key(ledger, fingerprint, started_at)
        with self._db.transaction() as cur:
            self._campaign_row(cur, key, _name(name, ledger, fingerprint), fingerprint,
                               _ledger_text(ledger), started_at=started_at)  # fmt: skip

    def record_campaign(
        self,
        result: CampaignResult,
        ledger: str | os.PathLike[str] | None = None,
        name: str | None = None,
    ) -> None:
        """Record (or record again, updating states) a campaign: one history row per
        recipient the provider took or may have taken (submitted, delivered, undelivered,
        sending, unknown), with its content hash, time, state and msgId."""
        plan = result.plan
        fingerprint = getattr(plan, "fingerprint", None)
        started = result.started_at
        key = _campaign_key(ledger, fingerprint, started)
        sent_at, pos, number, chash, state, msg = _history_rows(result)
        mtime = ledger_mtime(ledger) if ledger is not None else 0.0
        order = np.lexsort((pos, sent_at))  # time order: a window read skips older blocks
        first = float(sent_at[order[0]]) if len(order) else None
        last = float(sent_at[order[-1]]) if len(order) else None
        with self._db.transaction() as cur:
            campaign_id = self._campaign_row(
                cur, key, _name(name, ledger, fingerprint), fingerprint, _ledger_text(ledger),
                started_at=started,
            )  # fmt: skip
            history_store.delete_blocks(cur, campaign_id)  # recorded before: replaced
            columns = {"sent_at": sent_at, "pos": pos, "number": number, "content_hash": chash,
                       "state": state, "msg_id": msg}  # fmt: skip
            history_store.write_blocks(cur, campaign_id, {k: v[order] for k, v in columns.items()})
            cur.execute(
                "UPDATE campaigns SET status=?, started_at=?, finished_at=?, recipients=?, "
                "recorded_at=?, ledger_mtime=?, first_sent_at=?, last_sent_at=?, next_pos=?, "
                "sent=?, delivered=?, undelivered=? WHERE campaign_id=?",
                (result.status, started, result.finished_at, len(plan.recipients), time.time(),
                 mtime, first, last, len(plan.recipients), int((state != UNKNOWN).sum()),
                 int((state == DELIVERED).sum()), int((state == UNDELIVERED).sum()),
                 campaign_id),
            )  # fmt: skip
            if name is not None:
                cur.execute("UPDATE campaigns SET name=? WHERE campaign_id=?", (name, campaign_id))

    def stale_ledgers(self) -> list[Path]:
        """Ledgers of recorded campaigns that changed since they were recorded (a crash
        between the ledger and the workspace, a delivery refresh, a reconcile)."""
        rows = self._db.query("SELECT ledger, ledger_mtime FROM campaigns WHERE ledger IS NOT NULL")
        out = []
        for path, recorded in rows:
            mtime = ledger_mtime(path)
            if mtime and mtime > float(recorded or 0):
                out.append(Path(path))
        return out

    def _campaign_row(
        self,
        cur: Any,
        key: str,
        name: str,
        fingerprint: str | None,
        ledger: str | None,
        *,
        started_at: float | None,
    ) -> int:
        cur.execute(
            "INSERT INTO campaigns(campaign_key, name, fingerprint, ledger, started_at, status) "
            "VALUES (?, ?, ?, ?, ?, 'running') ON CONFLICT(campaign_key) DO NOTHING",
            (key, name, fingerprint, ledger, started_at),
        )
        # the row locked: two writers of one campaign (a record and a repair, two imports)
        # take turns
        cur.execute(
            f"SELECT campaign_id FROM campaigns WHERE campaign_key=?{row_lock(self.kind)}", (key,)
        )
        row = cur.fetchone()
        assert row is not None
        return int(row[0])

    # -- exclusions ------------------------------------------------------------------------
    def exclusions(
        self,
        numbers: pd.Series,
        contents: pd.Series,
        *,
        frequency_cap: str | None = None,
        repeat_guard: Any = "7d",
        now: float | None = None,
        ignore_ledger: str | os.PathLike[str] | None = None,
    ) -> pd.DataFrame:
        """Who must not get this message now, aligned to ``numbers`` (API form):
        columns ``state`` (``None``, ``skipped_opted_out``, ``skipped_already_sent`` or
        ``skipped_frequency_cap``, in that order of precedence) and ``reason``.

        ``frequency_cap`` ``"1/24h,4/30d"``: at most that many SMS in each window;
        ``repeat_guard`` ``"7d"``: not the same content again within 7 days (``None``,
        ``False`` or ``"off"``: no guard). One read of the opt-outs and one of the history
        window, joined in pandas: never a query per number. ``ignore_ledger``: leave that
        campaign's own sends out (its send-time re-check).
        """
        rules = parse_frequency_cap(frequency_cap)
        guard = parse_repeat_guard(repeat_guard)
        now = time.time() if now is None else float(now)
        numbers = pd.Series(numbers, copy=False)
        n = len(numbers)
        state = np.full(n, None, dtype=object)
        reason = np.full(n, None, dtype=object)
        ints = number_ints(numbers)  # numbers compared as 64-bit integers: hashing is cheap
        free = np.ones(n, dtype=bool)
        # 1. opt-outs: the whole list (small next to a campaign), matched on integers
        opt = self._db.query("SELECT number, source, opted_out_at FROM optouts")
        if opt:
            opt_num, opt_source, opt_at = (
                np.array(c, dtype=object) for c in zip(*opt, strict=True)
            )
            where = pd.Index(number_ints(opt_num)).get_indexer(ints)
            hit = (where >= 0) & (ints > 0)
            if hit.any():
                state[hit] = SKIPPED_OPTED_OUT
                reason[hit] = _optout_reasons(opt_source, opt_at, where[hit])
                free &= ~hit
        # 2. the history in the widest window, read once
        widest = max([r.seconds for r in rules] + [guard or 0.0])
        if not widest or not free.any():
            return _exclusion_frame(numbers.index, state, reason)
        ignore = None if ignore_ledger is None else _campaign_key(ignore_ledger, None, None)
        cols = history_store.read_window(
            self._db, now - widest, ("number", "content_hash"), ignore_key=ignore
        )
        recent = RecentSends(cols["number"], cols["content_hash"], cols["sent_at"])
        sent = recent.lookup(ints)
        known = free & (sent >= 0)
        if guard is not None and known.any():
            when = recent.repeats(sent, contents, known, now - guard)
            again = ~np.isnan(when)
            if again.any():
                stamp = pd.to_datetime(when[again], unit="s", utc=True)
                state[again] = SKIPPED_ALREADY_SENT
                reason[again] = (
                    "already received this message on "
                    + stamp.strftime("%Y-%m-%d %H:%M UTC").to_numpy(dtype=object)
                    + f" (repeat_guard {describe_guard(guard)})"
                )
                known &= ~again
        for rule in rules:
            if not known.any():
                break
            counts = recent.counts(sent, now - rule.seconds)
            over = known & (counts >= rule.limit)
            if over.any():
                state[over] = SKIPPED_FREQUENCY_CAP
                reason[over] = (
                    f"frequency cap {rule.text}: "
                    + counts[over].astype(str).astype(object)
                    + f" SMS in the last {rule.text.split('/', 1)[1]}"
                )
                known &= ~over
        return _exclusion_frame(numbers.index, state, reason)


# -- helpers -----------------------------------------------------------------------------------


def _optout_reasons(source: np.ndarray, at: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``"opted out (crm-export, 2026-11-02)"`` for opt-out ``rows``: one text per distinct
    (source, day), as an import shares both."""
    sources, source_names = pd.factorize(source[rows])
    days, day_names = pd.factorize(_days(at[rows]))
    pair, firsts = pd.factorize(sources.astype(np.int64) * (len(day_names) + 1) + days)
    texts = np.array(
        [f"opted out ({source_names[k // (len(day_names) + 1)]}, "
         f"{day_names[k % (len(day_names) + 1)]})" for k in firsts.tolist()],
        dtype=object,
    )  # fmt: skip
    return texts[pair]


def _exclusion_frame(index: pd.Index, state: np.ndarray, reason: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "state": pd.Series(state, index=index, dtype=object),
            "reason": pd.Series(reason, index=index, dtype=object),
        }
    )


def _history_rows(result: CampaignResult) -> tuple[np.ndarray, ...]:
    """(sent_at, pos, number, content_hash, state, msg_id) of the recorded recipients."""
    all_states, msg_ids, submitted = result.outcome_arrays()
    states = np.asarray(all_states, dtype=object)
    keep = np.flatnonzero(np.isin(states, RECORDED_STATES))
    rec = result.plan.recipients
    fallback = result.started_at or time.time()
    sent_at = np.asarray(submitted, dtype=np.float64)[keep]
    sent_at[np.isnan(sent_at)] = fallback  # unknown ones: when the campaign started
    msg = np.asarray(msg_ids, dtype=object)[keep]
    msg[pd.isna(msg)] = None
    return (
        sent_at.astype(np.float64),
        keep.astype(np.int64),
        number_ints(rec["number"].iloc[keep]),
        content_hashes(rec["content"].iloc[keep]),
        states[keep],
        msg,
    )


def ledger_mtime(path: str | os.PathLike[str] | None) -> float:
    """The newest modification time of a ledger file and its WAL (0 if there is none)."""
    if path is None:
        return 0.0
    times = []
    for p in (Path(path), Path(f"{os.fspath(path)}-wal")):
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            continue
    return max(times, default=0.0)


def _ledger_text(ledger: str | os.PathLike[str] | None) -> str | None:
    return None if ledger is None else str(Path(ledger).resolve())


def _campaign_key(
    ledger: str | os.PathLike[str] | None, fingerprint: str | None, started: float | None
) -> str:
    if ledger is not None:
        return f"ledger:{_ledger_text(ledger)}"
    return f"plan:{fingerprint}:{started!r}"


def _name(name: str | None, ledger: Any, fingerprint: str | None) -> str:
    if name:
        return name
    if ledger is not None:
        return Path(ledger).stem
    return f"campaign {(fingerprint or '?')[:12]}"


def _read_numbers(source: Any, region: str, what: str) -> set[str]:
    """API-form numbers of any source suppression lists accept (a single number too)."""
    region = check_region(region)
    if isinstance(source, list | tuple) and len(source) == 1:
        source = source[0]
    elif isinstance(source, list | tuple) and len(source) == 0:
        return set()
    if isinstance(source, int) and not isinstance(source, bool):
        source = str(source)
    one = isinstance(source, str) and not re.search(r"[,;\t\r\n]", source)
    if one and not os.path.exists(source):  # one number: the quick reader
        try:
            return {normalize_number(source, region)}
        except UsageError:
            pass  # read_suppression says what is wrong with it
    return set(read_suppression(source, default_region=region, what=what).numbers)


def _check_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{what} must be a non-empty text such as 'crm-export', got {value!r}")
    return value.strip()


def _count(cur: Any, table: str) -> int:
    cur.execute(f"SELECT count(*) FROM {table}")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _rowcount(cur: Any) -> int:
    raw = getattr(cur, "raw", cur)
    return max(int(raw.rowcount), 0)


def _reply_key(number: str, at: float | None, content: str) -> str:
    return hashlib.sha256(f"{number}\x1f{at!r}\x1f{content}".encode()).hexdigest()[:32]


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return '"' + (text if len(text) <= limit else text[: limit - 1] + "…") + '"'


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.astimezone()).timestamp()


def _days(epochs: np.ndarray) -> np.ndarray:
    """``"YYYY-MM-DD"`` (UTC) of each epoch, formatted once per distinct day."""
    day = (pd.to_numeric(pd.Series(epochs), errors="coerce").fillna(0) // 86400).astype(np.int64)
    codes, uniques = pd.factorize(day)
    texts = pd.to_datetime(np.asarray(uniques) * 86400, unit="s", utc=True).strftime("%Y-%m-%d")
    return np.asarray(texts, dtype=object)[codes]


def _times(values: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(values, errors="coerce"), unit="s", utc=True)


__all__ = ["SyncReport", "Workspace", "WorkspaceError"]
