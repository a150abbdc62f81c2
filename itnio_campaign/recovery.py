"""Resume, reconcile and reload a campaign from its ledger — never sending anyone twice.

* :func:`resume_campaign` sends exactly the recipients never attempted and those provably
  not accepted (``not_sent``/``fatal``); requests found *in flight* (the process died while
  waiting) become ``unknown`` and are never resent blindly (docs/architecture.md, invariant 1).
* :func:`reconcile_campaign` asks ``getSentRcd`` what was accepted over the campaign's time
  window and settles every ``unknown`` recipient: found → ``submitted`` with its msgId, not
  found → ``missing``.
* ``resume_campaign(..., resend_missing=True)`` sends the ``missing`` ones again, once.
* :func:`load_campaign` rebuilds the :class:`~itnio_campaign.result.CampaignResult` offline.

Example::

    result = await send_campaign(plan, client, ledger="spring-promo.sqlite")  # crashes
    result = await resume_campaign("spring-promo.sqlite", client)
    print(await reconcile_campaign("spring-promo.sqlite", client))
    result = await resume_campaign("spring-promo.sqlite", client, resend_missing=True)
    load_campaign("spring-promo.sqlite").summary()
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .client import AsyncClient
from .engine import SendOptions
from .errors import RESUMABLE_KINDS, ItnioError, LedgerError, UsageError
from .experiment import held_note
from .ledger import IN_FLIGHT_CODE, Ledger, Reconciliation, in_flight_outcome
from .models import MISSING, SUBMITTED, UNKNOWN, Batch
from .plan import load_plan
from .result import CampaignResult, Stopper, describe_remaining
from .schedule import Schedule
from .schedule_send import apply_marks, check_same_schedule, load_marks, send_in_windows
from .sending import ProgressEvent, send_into, send_settings
from .trial import Gate, Gating, await_reports, gate_record, judge, split_batches, trial_positions
from .trial_store import TrialRecord, has_passing_test, load_trial, save_trial, update_trial
from .workspace.core import Workspace
from .workspace.sendcheck import apply_exclusions, recheck, register, replaced_batches
from .workspace.sendcheck import record as _ws_record
from .workspace.sendcheck import workspace_for as _workspace_for

if TYPE_CHECKING:
    from .plan import Plan

#: Seconds added on each side of a request's time when matching sent records (clock skew).
DEFAULT_MARGIN_S = 120.0
#: A request left in flight by a dead process was accepted, if at all, within this long.
IN_FLIGHT_HORIZON_S = 300.0
#: getSentRcd only covers this many days back (provider documentation).
SENT_RECORDS_RETENTION_DAYS = 90.0


# -- sending with a ledger ----------------------------------------------------------------------
async def send_with_ledger(
    plan: Plan,
    client: AsyncClient,
    path: str | os.PathLike[str],
    *,
    options: SendOptions | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    stopper: Stopper | None = None,
    send_again: bool = False,
    gating: Gating | None = None,
    require_test: bool = False,
    workspace: Any = None,
) -> CampaignResult:
    """What ``send_campaign(plan, client, ledger=path)`` does: one campaign per plan.

    * ``path`` holds this plan: continue it (only recipients never attempted or provably
      not accepted are sent; unknown ones are reconciled first, never resent).
    * ``path`` holds another plan: UsageError, before anything is sent.
    * ``path`` is new, but another ledger in the same folder already sent this plan:
      :class:`AlreadySentError` naming it, unless ``send_again=True`` (everyone gets it again).

    ``workspace``: the plan's own by default (``False``: none, explicitly); it is checked
    again just before sending and records the campaign after (see :mod:`.workspace.sendcheck`).
    """
    path = Path(path)
    ws = _workspace_for(plan, workspace)  # unreadable: WorkspaceError before anything is sent
    if send_again:
        if holds_plan(path, plan.fingerprint):
            raise UsageError(
                f"{path} already holds this campaign; to send it to everyone again, give a "
                "new ledger path (the old one keeps its history)"
            )
    elif not path.exists():
        earlier = sent_ledgers(path.parent, plan.fingerprint, exclude=path)
        if earlier:
            raise AlreadySentError(earlier[0], plan.fingerprint)
    with Ledger.open(path) as ledger:
        ledger.start(plan, {})  # stores the plan, or checks it is the same one
        check_same_schedule(ledger, plan)  # and the same send windows
        if require_test and not has_passing_test(ledger, plan.fingerprint):
            raise UsageError(
                f"require_test: no passing test send of this plan in {path}; run "
                "send_test(plan, client, seeds=[...], ledger=...) first (a changed message or "
                "list needs a new test)"
            )
        result = await _continue(
            ledger, plan, client, options, on_progress, stopper, gating=gating, workspace=ws
        )
    if ws is not None:  # after the ledger is closed: its file time is then final
        _ws_record(ws, result, path)
    return result


class AlreadySentError(UsageError):
    """This plan was already sent from another ledger; sending it again needs a choice.

    ``ledger`` is the earlier ledger's path.
    """

    def __init__(self, ledger: Path, fingerprint: str) -> None:
        self.ledger = ledger
        self.fingerprint = fingerprint
        super().__init__(
            f"this campaign (the same recipients and message) was already sent from the "
            f"ledger {ledger}; continue that one (resume_campaign / itnio-campaign resume "
            f"{ledger}) so nobody gets it twice, or choose send_again=True (--send-again, "
            '"send again to everyone" in the form) to send it to everyone again'
        )


def sent_ledgers(
    folder: str | os.PathLike[str], fingerprint: str, *, exclude: Path | None = None
) -> list[Path]:
    """Ledgers (``*.sqlite``) in ``folder`` holding the plan ``fingerprint`` that made at
    least one request, newest first. Files that are not ledgers are passed over.

    Example::

        sent_ledgers("ledgers", plan.fingerprint)  ->  [PosixPath('ledgers/campaign-1.sqlite')]
    """
    folder = Path(folder) if str(folder) else Path(".")
    if not folder.is_dir():
        return []
    found: list[tuple[float, Path]] = []
    for candidate in folder.glob("*.sqlite"):
        if exclude is not None and _same_file(candidate, exclude):
            continue
        try:
            with Ledger.open(candidate, create=False, readonly=True) as other:
                if other.fingerprint == fingerprint and other.last_seq() > 0:
                    found.append((candidate.stat().st_mtime, candidate))
        except (LedgerError, OSError):
            continue
    return [p for _, p in sorted(found, reverse=True)]


def holds_plan(path: Path, fingerprint: str) -> bool:
    if not path.exists():
        return False
    try:
        with Ledger.open(path, create=False, readonly=True) as ledger:
            return ledger.fingerprint == fingerprint
    except LedgerError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()


async def resume_campaign(
    path: str | os.PathLike[str],
    client: AsyncClient,
    *,
    resend_missing: bool = False,
    options: SendOptions | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    stopper: Stopper | None = None,
    override_gate: bool = False,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Any] | None = None,
    workspace: Any = None,
    **option_overrides: Any,
) -> CampaignResult:
    """Continue the campaign in the ledger at ``path``; return its whole result.

    Sends the recipients never attempted and those provably not accepted; ``unknown`` ones
    are reconciled first and never resent. With ``resend_missing=True`` it also sends, once,
    the recipients :func:`reconcile_campaign` proved ``missing``. Send options are those of
    ``send_campaign`` (``options=SendOptions(...)`` or ``concurrency=``, ``rate=``,
    ``request_rate=``, ``max_failed_batches=``, ``progress=``). A campaign with nobody left
    to send is returned as it is, with ``result.notice`` saying so (nothing is sent).

    A campaign with a trial (``send_campaign(..., trial=0.02)``) still applies its gate:
    an unfinished wait is waited out (``clock``/``sleep`` injectable), a failed gate is judged
    again on the reports now known; ``override_gate=True`` sends the rest anyway.

    A campaign planned with a workspace checks it again before sending the rest (opt-outs
    and caps recorded since are honoured) and is recorded in it after; ``workspace=False``
    skips that explicitly, a Workspace or location replaces the plan's.

    Example::

        result = await resume_campaign("spring-promo.sqlite", client, concurrency=4)
        result = await resume_campaign("spring-promo.sqlite", client, override_gate=True)
    """
    opts = SendOptions.of(options, **option_overrides)
    gating = Gating.of(override_gate=override_gate, clock=clock, sleep=sleep)
    with Ledger.open(path, create=False) as ledger:
        plan = load_plan(ledger)
        ws = _workspace_for(plan, workspace)  # before anything is sent
        if resend_missing:
            ledger.settle_in_flight()
            result = rebuild_result(ledger, plan)
            ledger.add_batches(_resend_batches(ledger, result))
        result = await _continue(
            ledger, plan, client, opts, on_progress, stopper, gating=gating, workspace=ws
        )
    if ws is not None:
        _ws_record(ws, result, path)
    return result


async def _continue(
    ledger: Ledger,
    plan: Plan,
    client: AsyncClient,
    options: SendOptions | None,
    on_progress: Callable[[ProgressEvent], None] | None,
    stopper: Stopper | None,
    *,
    gating: Gating | None = None,
    workspace: Workspace | None = None,
) -> CampaignResult:
    """Send what the ledger has not sent yet (reconciling unknown recipients first)."""
    opts = options or SendOptions()
    gating = gating or Gating()
    ledger.settle_in_flight()
    notes: list[str] = []
    result = rebuild_result(ledger, plan, stopper=stopper)
    # Only an answer the journal lacks makes a row unknown: a new campaign has none.
    if ledger.last_seq() > 0 and len(result.positions_in(UNKNOWN)):
        try:
            report = await _reconcile(ledger, client)
            notes.append(str(report).splitlines()[0])
        except ItnioError as exc:  # unknown ones stay unknown: never resent, so safe to go on
            notes.append(f"reconcile before sending failed ({exc}); unknown ones stay unknown")
        result = rebuild_result(ledger, plan, stopper=stopper)
    trial = _setup_trial(ledger, plan, gating)
    if trial is not None:
        result.add_batches(ledger.batches(extra=True))
    to_send = resumable_batches(ledger, plan)
    ws_note = ""
    if workspace is not None:  # opt-outs and caps again, just before sending (issue 13)
        register(workspace, plan, ledger)
        to_send, ws_note = recheck(workspace, plan, result, to_send, ledger=ledger, trial=trial)
        notes.append(ws_note)
        trial = load_trial(ledger) if trial is not None else None
    if not to_send and ledger.last_seq() > 0:
        result.notice = _nothing_to_send(result, ledger.path) + held_note(result, ledger.path)
        if ws_note:
            result.notice = f"{ws_note} {result.notice}"
        return result
    if trial is None:
        await _send_scheduled(ledger, result, client, to_send, opts, on_progress, gating)
    else:
        notes.append(await _trial_then_rest(
            ledger, result, client, to_send, opts, on_progress, trial, gating
        ))  # fmt: skip
    if held := held_note(result, ledger.path).lstrip("; "):  # issue 17: rows for the rollout
        notes.append(held)
    if notes:
        result.notice = " ".join(n for n in notes if n)
    return result


async def _send_part(
    ledger: Ledger,
    result: CampaignResult,
    client: AsyncClient,
    batches: Sequence[Batch],
    opts: SendOptions,
    on_progress: Callable[[ProgressEvent], None] | None,
    admit: Callable[[Batch], bool] | None = None,
) -> None:
    """One sending session: journaled, its status kept in the ledger."""
    ledger.set_settings(send_settings(client, opts))
    ledger.mark_running(time.time())
    try:
        await send_into(
            result, client, batches, options=opts, journal=ledger, on_progress=on_progress,
            admit=admit,
        )  # fmt: skip
    finally:
        ledger.finish(result.status, result.halt_reason)


# -- send windows (issue 14) -------------------------------------------------------------------
async def _send_scheduled(
    ledger: Ledger,
    result: CampaignResult,
    client: AsyncClient,
    batches: Sequence[Batch],
    opts: SendOptions,
    on_progress: Callable[[ProgressEvent], None] | None,
    gating: Gating,
) -> None:
    """:func:`_send_part`, or for a plan with send windows, window by window on the
    injected clock (:func:`~itnio_campaign.schedule_send.send_in_windows`)."""
    schedule = Schedule.from_settings(result.plan.settings)
    if schedule is None:
        await _send_part(ledger, result, client, batches, opts, on_progress)
        return

    async def part(chunk: Sequence[Batch], admit: Callable[[Batch], bool]) -> None:
        await _send_part(ledger, result, client, chunk, opts, on_progress, admit)

    def notify(line: str) -> None:
        if on_progress is not None:
            counts = result.counts()
            live = {s: counts.get(s, 0) for s in (SUBMITTED, "rejected", UNKNOWN)}
            total = sum(b.size for b in batches)
            answered = {o.batch_id for o in result.outcomes}  # a wait keeps what was sent
            done = sum(b.size for b in batches if b.batch_id in answered)
            on_progress(
                ProgressEvent(total, done, live, len(result.outcomes), result.retries, line)
            )

    await send_in_windows(
        ledger, result, batches, schedule, send=part, clock=gating.clock, sleep=gating.sleep,
        notify=notify,
    )  # fmt: skip


# -- the trial and its gate ---------------------------------------------------------------------
def _setup_trial(ledger: Ledger, plan: Plan, gating: Gating) -> TrialRecord | None:
    """The campaign's trial: the recorded one, or a new one (before any request) when asked.

    The record is saved before its requests, and requests found missing are added again
    (the same split of the same plan gives the same ids), so a crash between the two is safe.
    """
    record = load_trial(ledger)
    if record is None and gating.share is not None:
        if ledger.last_seq() > 0:
            raise UsageError(
                "this campaign already started without a trial: resume it without trial= "
                "(a trial must come before the first request)"
            )
        gate = gating.gate or Gate()
        positions = trial_positions(plan, gating.share)
        first_id = max(b.batch_id for b in ledger.batches()) + 1
        first, rest = split_batches(plan.batches, set(positions), first_id)
        record = TrialRecord(
            gating.share, gate_record(gate), positions, [b.batch_id for b in first],
            [b.batch_id for b in rest], [b.batch_id for b in plan.batches],
        )  # fmt: skip
        save_trial(ledger, record)
    if record is None:
        return None
    known = {b.batch_id for b in ledger.batches(extra=True)}
    if not set(record.trial_ids + record.rest_ids) <= known:
        first, rest = split_batches(
            plan.batches, set(record.positions), min(record.trial_ids + record.rest_ids)
        )
        ledger.add_batches(b for b in first + rest if b.batch_id not in known)
    return record


async def _trial_then_rest(
    ledger: Ledger,
    result: CampaignResult,
    client: AsyncClient,
    to_send: list[Batch],
    opts: SendOptions,
    on_progress: Callable[[ProgressEvent], None] | None,
    record: TrialRecord,
    gating: Gating,
) -> str:
    """Send the trial, wait for its reports, judge the gate; the rest only if it passes.

    Returns a note for ``result.notice``; a failed gate halts the campaign (ledger too).
    """
    trial_ids = set(record.trial_ids)
    note = ""
    if not record.released and gating.override:
        reason = (record.decision or {}).get("reason", "the gate was not judged yet")
        decision = {"passed": False, "reason": reason, "at": gating.clock(), "override": True}
        record = update_trial(ledger, record, decision=decision)
        note = f"gate overridden ({reason}); sending the rest"
    if not record.released:
        first = [b for b in to_send if b.batch_id in trial_ids]
        if first:
            await _send_scheduled(ledger, result, client, first, opts, on_progress, gating)
            if result.status not in ("completed", "incomplete"):
                return ""  # stopped or halted during the trial: resume continues it
        if record.waiting_since is None:
            record = update_trial(ledger, record, waiting_since=gating.clock())
        since = float(record.waiting_since or 0.0)
        gate = Gate(**record.gate)
        await await_reports(
            ledger, result, client, deadline=since + gate.wait_s, poll=gate.poll,
            clock=gating.clock, sleep=gating.sleep,
        )  # fmt: skip
        verdict = judge(result, record.positions, gate, gating.clock() - since)
        decision = {
            "passed": verdict.passed, "reason": verdict.describe(), "at": gating.clock(),
            "override": False,
        }  # fmt: skip
        record = update_trial(ledger, record, decision=decision)
        if not verdict.passed:
            left = len(result.positions_in("pending"))
            reason = (
                f"{verdict.describe()}. The other {left:,} recipients stay pending: fix the "
                "cause and plan again, or resume_campaign(..., override_gate=True) "
                "(itnio-campaign resume --override-gate) to send them anyway"
            )
            result.conclude("halted", reason)
            ledger.finish("halted", reason)
            return ""
        note = verdict.describe()
    rest = [b for b in to_send if b.batch_id not in trial_ids]
    if rest:
        await _send_scheduled(ledger, result, client, rest, opts, on_progress, gating)
    return note


def _nothing_to_send(result: CampaignResult, path: Path) -> str:
    """The one line for a campaign with nobody left to send."""
    left = result.remaining()
    if not left:
        return (
            f"this campaign is already complete (ledger {path}): nothing was sent now. "
            "load_campaign() shows it; a new message needs a new plan and ledger"
        )
    return (
        f"nothing left to send now ({describe_remaining(left)}); nothing was sent. "
        "Run reconcile later for unknown recipients"
    )


def resumable_batches(ledger: Ledger, plan: Plan | None = None) -> list[Batch]:
    """Requests to make now: never attempted, or last attempt provably not accepted.

    ``plan``: the ledger's own plan (same fingerprint), whose batches need not be read back.
    """
    last_kind = ledger.last_kinds()
    batches = ledger.batches() if plan is None else [*plan.batches, *ledger.batches(extra=True)]
    trial = load_trial(ledger)
    if trial is not None:  # the trial's and the rest's requests replace the plan's
        replaced = set(trial.superseded)
        batches = [b for b in batches if b.batch_id not in replaced]
    by_workspace = replaced_batches(ledger)  # requests the send-time re-check replaced
    if by_workspace:
        batches = [b for b in batches if b.batch_id not in by_workspace]
    marked = load_marks(ledger)  # expired / skipped_window_passed: final, never sent
    return [
        b for b in batches
        if ((k := last_kind.get(b.batch_id)) is None or k in RESUMABLE_KINDS)
        and b.batch_id not in marked
    ]  # fmt: skip


def _resend_batches(ledger: Ledger, result: CampaignResult) -> list[Batch]:
    """New requests for the ``missing`` recipients not already queued for a resend."""
    queued: set[int] = set()
    for batch in resumable_batches(ledger):
        queued.update(batch.positions)
    missing = [int(p) for p in result.positions_in(MISSING) if int(p) not in queued]
    if not missing:
        return []
    source: dict[int, int] = {}  # position -> the request it was proved missing from
    for rec in ledger.reconciliations():
        source.update((p, rec.batch_id) for p in rec.missing)
    by_batch: dict[int, set[int]] = defaultdict(set)
    for p in missing:
        by_batch[source[p]].add(p)
    known = {b.batch_id: b for b in ledger.batches()}
    next_id = max(known) + 1
    out = []
    for batch_id in sorted(by_batch):
        out.append(known[batch_id].part(by_batch[batch_id], next_id))
        next_id += 1
    return out


# -- rebuilding the result ----------------------------------------------------------------------
def rebuild_result(
    ledger: Ledger, plan: Plan | None = None, *, stopper: Stopper | None = None
) -> CampaignResult:
    """The CampaignResult the journal describes: outcomes, reconciliations, deliveries."""
    plan = plan if plan is not None else load_plan(ledger)
    result = CampaignResult(plan, ledger.settings, stopper=stopper)
    result.add_batches(ledger.batches(extra=True))
    pending = list(ledger.reconciliations())
    known = {b.batch_id: b for b in result.batches}
    for seq, outcome, batch_id, started in ledger.journal_rows(known):
        while pending and pending[0].after_seq < seq:
            _apply_reconciliation(result, pending.pop(0))
        result.apply_outcome(outcome or in_flight_outcome(batch_id, started))
    for rec in pending:
        _apply_reconciliation(result, rec)
    apply_marks(ledger, result)  # send windows: expired, skipped_window_passed
    apply_exclusions(ledger, result)  # whom the workspace excluded at send time
    result.apply_delivery(ledger.delivery_records())
    status = ledger.status
    known_status = ("running", "completed", "incomplete", "stopped", "halted", "waiting")
    # completed/incomplete are recomputed: a reconcile since may have settled everyone.
    result.conclude(status if status in known_status else "planned", ledger.halt_reason)
    result.started_at, result.finished_at = ledger.started_at, ledger.finished_at
    result.active_seconds_before = ledger.active_seconds  # sending time only
    return result


def _apply_reconciliation(result: CampaignResult, rec: Reconciliation) -> None:
    if rec.found:
        positions = [p for p, _ in rec.found]
        result.mark(positions, SUBMITTED, None)
        result.set_msg_ids(positions, [m for _, m in rec.found])
    if rec.missing:
        result.mark(
            list(rec.missing),
            MISSING,
            "not among the provider's sent records: never accepted "
            "(resume_campaign(..., resend_missing=True) sends it once)",
        )


def load_campaign(path: str | os.PathLike[str]) -> CampaignResult:
    """The campaign's result, rebuilt from the ledger without any network call.

    Works while another process is sending (a consistent snapshot). A campaign whose sender
    died shows status ``stopped`` with the reason, and its in-flight requests as ``unknown``.

    Example::

        load_campaign("spring-promo.sqlite").frame.state.value_counts()
    """
    with Ledger.open(path, create=False, readonly=True) as ledger:
        result = rebuild_result(ledger)
        if result.status in ("running", "waiting") and not ledger.writer_alive():
            result.status = "stopped"
            result.halt_reason = (
                f"the sending process ended unexpectedly; resume continues it "
                f"(itnio-campaign resume {ledger.path}, or resume_campaign() in Python)"
            )
        if result.status == "completed":
            result.notice = (
                f"loaded from {ledger.path}: this campaign is complete, and loading it sends "
                "nothing; a new message needs a new plan and ledger"
            )
        return result


# -- reconcile ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReconcileReport:
    """What :func:`reconcile_campaign` settled; ``str()`` says what to do next."""

    found: int
    missing: int
    still_unknown: int
    records_scanned: int = 0
    window: tuple[datetime, datetime] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        lines = [
            f"reconcile: {self.found:,} found (now submitted), {self.missing:,} missing "
            f"(never accepted), {self.still_unknown:,} still unknown",
        ]
        if self.window is not None:
            lo, hi = self.window
            lines.append(
                f"  sent records scanned: {self.records_scanned:,} from {lo:%Y-%m-%d %H:%M:%S} "
                f"to {hi:%Y-%m-%d %H:%M:%S %Z}"
            )
        lines += [f"  {note}" for note in self.notes]
        if self.missing:
            lines.append(
                "  next: resume_campaign(path, client, resend_missing=True) sends the missing "
                "ones once"
            )
        return "\n".join(lines)


async def reconcile_campaign(
    path: str | os.PathLike[str],
    client: AsyncClient,
    *,
    margin_s: float = DEFAULT_MARGIN_S,
    min_age_s: float = 60.0,
    now: float | None = None,
) -> ReconcileReport:
    """Settle every ``unknown`` recipient from the provider's sent records (getSentRcd).

    Records are matched on number within the request's time window (± ``margin_s``); a
    record already tied to another recipient is never used twice. Requests younger than
    ``min_age_s`` seconds (the provider's records may lag) or older than the provider's
    90-day retention stay ``unknown``.

    Example::

        print(await reconcile_campaign("spring-promo.sqlite", client))
    """
    with Ledger.open(path, create=False) as ledger:
        return await _reconcile(ledger, client, margin_s=margin_s, min_age_s=min_age_s, now=now)


async def _reconcile(
    ledger: Ledger,
    client: AsyncClient,
    *,
    margin_s: float = DEFAULT_MARGIN_S,
    min_age_s: float = 60.0,
    now: float | None = None,
) -> ReconcileReport:
    """:func:`reconcile_campaign` on a ledger already open for writing."""
    ledger.settle_in_flight()
    result = rebuild_result(ledger)
    now = time.time() if now is None else now
    unknown = [int(p) for p in result.positions_in(UNKNOWN)]
    if not unknown:
        return ReconcileReport(0, 0, 0)
    windows = _unknown_windows(ledger, unknown, margin_s)
    oldest = now - SENT_RECORDS_RETENTION_DAYS * 86400 + 3600
    decidable = {
        p for p, (lo, hi, _) in windows.items() if hi + min_age_s - margin_s <= now and lo > oldest
    }
    notes = []
    if len(decidable) < len(unknown):
        notes.append(
            f"{len(unknown) - len(decidable):,} are in requests younger than {min_age_s:g} s "
            "or older than the provider's 90-day record retention: run reconcile again later "
            "(or check them by hand)"
        )
    if not decidable:
        return ReconcileReport(0, 0, len(unknown), notes=tuple(notes))
    numbers = result.plan.recipients["number"].to_numpy()
    wanted: dict[str, list[int]] = defaultdict(list)
    for p in decidable:
        wanted[str(numbers[p])].append(p)
    # The campaign's whole window: first request's start to last one's end, ± margin.
    first, last = _first_last(ledger)
    lo = max(min(first - margin_s, *(windows[p][0] for p in decidable)), oldest)
    hi = min(max(last + margin_s, *(windows[p][1] for p in decidable)), now)
    known_ids = _known_msg_ids(ledger)
    candidates: dict[str, list[tuple[float | None, str]]] = defaultdict(list)
    scanned = 0
    async for record in client.iter_sent_records(_dt(lo), _dt(max(hi, lo + 1))):
        scanned += 1
        if record.number in wanted and record.msg_id not in known_ids:
            at = _epoch(record.receive_time)
            candidates[record.number].append((at, record.msg_id))
    entries = _match(decidable, windows, wanted, candidates, ledger.last_seq(), now)
    ledger.record_reconciliation(entries)
    found = sum(len(e.found) for e in entries)
    missing = sum(len(e.missing) for e in entries)
    return ReconcileReport(
        found, missing, len(unknown) - found - missing, scanned, (_dt(lo), _dt(hi)),
        tuple(notes),
    )  # fmt: skip


def _match(
    decidable: set[int],
    windows: dict[int, tuple[float, float, int]],
    wanted: dict[str, list[int]],
    candidates: dict[str, list[tuple[float | None, str]]],
    after_seq: int,
    now: float,
) -> list[Reconciliation]:
    """Tie each unknown recipient to at most one unclaimed record of its number in its window."""
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    missing: dict[int, list[int]] = defaultdict(list)
    claimed: set[str] = set()
    for number, positions in wanted.items():
        records = sorted(candidates.get(number, ()), key=lambda r: (r[0] is None, r[0] or 0.0))
        for p in sorted(positions, key=lambda q: windows[q][0]):
            lo, hi, batch_id = windows[p]
            # A record without a time cannot be placed: counting it as found is the safe side.
            hit = next(
                (m for at, m in records if m not in claimed and (at is None or lo <= at <= hi)),
                None,
            )
            if hit is not None:
                claimed.add(hit)
                found[batch_id].append((p, hit))
            else:
                missing[batch_id].append(p)
    return [
        Reconciliation(after_seq, b, now, tuple(found.get(b, ())), tuple(missing.get(b, ())))
        for b in sorted(set(found) | set(missing))
    ]


def _unknown_windows(
    ledger: Ledger, unknown: Sequence[int], margin_s: float
) -> dict[int, tuple[float, float, int]]:
    """position -> (earliest, latest) epoch its request could have been accepted, batch id."""
    wanted = set(unknown)
    batches = {b.batch_id: b for b in ledger.batches()}
    out: dict[int, tuple[float, float, int]] = {}
    for outcome in ledger.outcomes():  # later outcomes win, as when the result was built
        # "unknown" requests, and accepted ones whose answer did not say which numbers
        if outcome.kind not in ("unknown", "accepted"):
            continue
        end = outcome.finished_at
        if outcome.code == IN_FLIGHT_CODE:  # settled after a crash: finished_at is not real
            end = min(end, outcome.started_at + IN_FLIGHT_HORIZON_S)
        window = (outcome.started_at - margin_s, end + margin_s, outcome.batch_id)
        for p in batches[outcome.batch_id].positions:
            if p in wanted:
                out[p] = window
    return out


def _first_last(ledger: Ledger) -> tuple[float, float]:
    outcomes = ledger.outcomes()
    ends = [
        min(o.finished_at, o.started_at + IN_FLIGHT_HORIZON_S)
        if o.code == IN_FLIGHT_CODE
        else o.finished_at
        for o in outcomes
    ]
    return min(o.started_at for o in outcomes), max(ends)


def _known_msg_ids(ledger: Ledger) -> set[str]:
    ids = {m for o in ledger.outcomes() for _, _, m in o.accepted}
    ids.update(m for rec in ledger.reconciliations() for _, m in rec.found)
    return ids


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.astimezone()).timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


__all__ = [
    "AlreadySentError",
    "LedgerError",
    "ReconcileReport",
    "load_campaign",
    "rebuild_result",
    "reconcile_campaign",
    "resumable_batches",
    "resume_campaign",
    "send_with_ledger",
    "sent_ledgers",
]
