"""Test sends: the campaign's representative messages, sent to staff phones first.

:func:`send_test` picks the rows that show what can go wrong — the longest rendered message,
one per distinct content (up to ``MAX_CONTENTS``), one per country and encoding, a row with
an empty field — and sends *their rendered text* to the ``seeds`` (staff numbers) with
``sendSms/batch``, one request per message (so a refused template names itself). It waits
for delivery reports up to ``timeout`` and returns one row per (seed, message). With a
``ledger`` the test is kept there (seeds are not recipients), and
``send_campaign(..., require_test=True)`` refuses a plan without a passing test.

Example::

    frame = await send_test(plan, client, seeds=["+91 98765 43210"], ledger="promo.sqlite")
    frame[["seed", "represents", "state", "delivery", "error"]]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .client import AsyncClient
from .errors import RequestError, UsageError
from .ledger import Ledger
from .models import MAX_REPORT_IDS, BatchItem, DeliveryRecord
from .numbers import calling_codes, normalize_numbers
from .trial import Clock, Sleep, default_clock, default_sleep, parse_duration
from .trial_store import record_test

if TYPE_CHECKING:
    from .plan import Plan

#: At most this many distinct contents are tested one each (personalised texts are many).
MAX_CONTENTS = 10
#: The test send's result columns.
TEST_COLUMNS = (
    "seed", "row", "represents", "content", "segments", "state", "msg_id", "delivery", "error",
)  # fmt: skip


def representative_rows(plan: Plan) -> dict[int, list[str]]:
    """Row positions worth a test send, each with why it was picked.

    >>> import pandas as pd
    >>> from itnio_campaign.plan import plan_campaign
    >>> df = pd.DataFrame({"phone": ["+91 98765 43210", "+91 98765 43211"], "n": ["A", "Bob"]})
    >>> representative_rows(plan_campaign(df, content="Hi {n}"))
    {1: ['longest message', 'content 2'], 0: ['content 1', 'country +91, GSM-7']}
    """
    rec = plan.recipients
    ready = (rec["state"] == "ready").to_numpy()
    positions = [int(p) for p in range(len(rec)) if ready[p]]
    if not positions:
        raise UsageError("the plan has no ready recipients: nothing to test")
    picks: dict[int, list[str]] = {}
    contents = rec["content"].astype(str).tolist()
    segments = rec["segments"].tolist()
    longest = max(positions, key=lambda p: (segments[p], len(contents[p])))
    picks.setdefault(longest, []).append("longest message")
    seen: dict[str, int] = {}
    for p in positions:
        if contents[p] not in seen and len(seen) < MAX_CONTENTS:
            seen[contents[p]] = p
            picks.setdefault(p, []).append(f"content {len(seen)}")
    codes = calling_codes(rec["number"].astype(str).reset_index(drop=True)).tolist()
    encodings = rec["encoding"].astype(str).tolist()
    groups: set[tuple[int, str]] = set()
    for p in positions:
        key = (codes[p], encodings[p])
        if key not in groups:
            groups.add(key)
            picks.setdefault(p, []).append(f"country +{key[0]}, {key[1]}")
    source = plan.source.reset_index(drop=True)
    empty = source.isna() | source.astype(str).apply(lambda c: c.str.strip() == "")
    for p in positions:
        blanks = [str(c) for c in source.columns if bool(empty.iloc[p][c])]
        if blanks:
            picks.setdefault(p, []).append(f"empty {', '.join(blanks)}")
            break
    return picks


async def send_test(
    plan: Plan,
    client: AsyncClient,
    seeds: Sequence[str],
    *,
    ledger: str | os.PathLike[str] | None = None,
    timeout: float | str = "5m",
    poll: float = 10.0,
    default_region: str = "IN",
    clock: Clock | None = None,
    sleep: Sleep | None = None,
) -> pd.DataFrame:
    """Send the plan's representative messages to ``seeds``; return one row per message.

    Columns: seed, row (the recipient's index label it represents), represents (why),
    content, segments, state (``submitted``/``rejected``), msg_id, delivery (``delivered``,
    ``undelivered``, ``sending`` or empty), error (the provider's refusal). Reports are
    awaited up to ``timeout`` (``clock``/``sleep`` injectable). ``frame.attrs["passed"]``
    is True when every message was delivered.
    """
    seed_numbers = _seeds(seeds, default_region)
    clock = clock or default_clock
    sleep = sleep or default_sleep
    deadline = clock() + parse_duration(timeout)
    picks = representative_rows(plan)
    rec = plan.recipients
    sender_id = plan.settings.get("sender_id") if isinstance(plan.settings, dict) else None
    rows: list[dict[str, Any]] = []
    for p, why in picks.items():
        content = str(rec["content"].iloc[p])
        base = {
            "row": rec.index[p], "represents": "; ".join(why), "content": content,
            "segments": int(rec["segments"].iloc[p]),
        }  # fmt: skip
        try:
            sent = await client.send_sms_batch([BatchItem(tuple(seed_numbers), content, sender_id)])
        except RequestError as exc:
            for seed in seed_numbers:
                rows.append({"seed": seed, **base, "state": "rejected", "msg_id": None,
                             "delivery": "", "error": f"{exc.code} {exc.reason}"})  # fmt: skip
            continue
        by_number = dict(zip(sent.numbers, sent.msg_ids, strict=False))
        for seed in seed_numbers:
            msg_id = by_number.get(seed)
            state = "submitted" if msg_id else "rejected"
            error = "" if msg_id else "the provider did not accept this number"
            rows.append({"seed": seed, **base, "state": state, "msg_id": msg_id,
                         "delivery": "", "error": error})  # fmt: skip
    await _await_reports(client, rows, deadline, poll, clock, sleep)
    frame = pd.DataFrame(rows, columns=list(TEST_COLUMNS))
    passed = bool(len(frame)) and bool((frame["delivery"] == "delivered").all())
    frame.attrs["passed"] = passed
    if ledger is not None:
        with Ledger.open(ledger) as book:
            book.start(plan, {})
            record_test(book, plan.fingerprint, clock(), passed, rows)
    return frame


def _seeds(seeds: Sequence[str], region: str) -> list[str]:
    if isinstance(seeds, str):
        seeds = [s for s in seeds.replace(";", ",").split(",") if s.strip()]
    if not seeds:
        raise UsageError("send_test needs at least one seed number (a staff phone)")
    norm = normalize_numbers(pd.Series(list(seeds), dtype=object), default_region=region)
    bad = [str(s) for s, ok in zip(seeds, norm["state"] == "ready", strict=True) if not ok]
    if bad:
        raise UsageError(f"seed numbers that are not phone numbers: {', '.join(bad)}")
    return list(dict.fromkeys(str(n) for n in norm["number"]))


async def _await_reports(
    client: AsyncClient,
    rows: list[dict[str, Any]],
    deadline: float,
    poll: float,
    clock: Clock,
    sleep: Sleep,
) -> None:
    """Ask getReport until every accepted message has a final report or time is up."""
    while True:
        pending = [r for r in rows if r["msg_id"] and r["delivery"] in ("", "sending")]
        ids = [r["msg_id"] for r in pending]
        records: dict[str, DeliveryRecord] = {}
        for i in range(0, len(ids), MAX_REPORT_IDS):
            report = await client.get_report(ids[i : i + MAX_REPORT_IDS])
            records.update((r.msg_id, r) for r in report.records)
        for row in pending:
            if (found := records.get(row["msg_id"])) is not None:
                row["delivery"] = found.status
        if not any(r["msg_id"] and r["delivery"] in ("", "sending") for r in rows):
            return
        now = clock()
        if now >= deadline:
            return
        await sleep(min(poll, deadline - now))


__all__ = ["MAX_CONTENTS", "TEST_COLUMNS", "representative_rows", "send_test"]
