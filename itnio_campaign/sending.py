"""Send requests into a live :class:`~itnio_campaign.result.CampaignResult`, with progress.

The step between the campaign layer (which picks the requests and the journal:
:func:`~itnio_campaign.runner.send_campaign`, :func:`~itnio_campaign.recovery.resume_campaign`)
and the engine (:func:`~itnio_campaign.engine.send_batches`): each outcome is applied to the
result as it arrives, the progress bar and ``on_progress`` see live counts, and the run's
status is concluded (a run that leaves anyone pending, unknown or missing is
``incomplete``, not ``completed``).

Example::

    await send_into(result, client, plan.batches, options=SendOptions(concurrency=4))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .client import AsyncClient
from .engine import Journal, SendOptions, progress_bar, send_batches
from .models import REJECTED, SUBMITTED, UNKNOWN, Batch
from .result import BatchOutcome, CampaignResult


@dataclass(frozen=True)
class ProgressEvent:
    """Sent to ``on_progress`` after every request."""

    total: int
    done: int
    counts: dict[str, int]
    requests: int
    retries: int
    #: While a windowed campaign waits: which zone opens when (else None).
    waiting: str | None = None


def send_settings(client: AsyncClient, options: SendOptions) -> dict[str, object]:
    """How a campaign was sent, for the summary, the ledger and the report (no secrets)."""
    return {
        **options.describe(),
        "app_id": client.credentials.app_id,
        "base_url": client.credentials.base_url,
    }


async def send_into(
    result: CampaignResult,
    client: AsyncClient,
    batches: Sequence[Batch],
    *,
    options: SendOptions,
    journal: Journal | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    admit: Callable[[Batch], bool] | None = None,
) -> CampaignResult:
    """Send ``batches`` and apply each outcome to ``result`` as it arrives (live progress).

    ``admit``: asked before each request; a request it turns away is not made (send windows).
    """
    total = sum(b.size for b in batches)
    bar = progress_bar(total, options.progress, "sending")
    done = 0
    live = {SUBMITTED: 0, REJECTED: 0, UNKNOWN: 0}
    now = time.time()
    start, end = result.session_started_at, result.finished_at
    if start is not None and end is not None and end >= start:
        # an earlier part of this session (a trial's share, an earlier send window) counts;
        # the wait between the parts does not
        result.active_seconds_before += end - start
    result.status = "running"
    result.started_at = result.started_at or now
    result.session_started_at = now
    result.finished_at = None

    def on_outcome(batch: Batch, outcome: BatchOutcome) -> None:
        nonlocal done
        result.apply_outcome(outcome)
        done += batch.size
        _count_states(live, result, batch, outcome)
        if bar is not None:
            bar.update(batch.size)
            bar.set_postfix(live, refresh=False)
        if on_progress is not None:
            on_progress(
                ProgressEvent(total, done, dict(live), len(result.outcomes), result.retries)
            )

    try:
        report = await send_batches(
            client,
            batches,
            options=options,
            journal=journal,
            on_outcome=on_outcome,
            stop=result.stopper,
            admit=admit,
        )
        result.finished_at = time.time()
        result.conclude(report.status, report.halt_reason)
    except (asyncio.CancelledError, KeyboardInterrupt):
        result.finished_at = time.time()
        result.conclude("stopped", "interrupted")
        raise
    finally:
        if bar is not None:
            bar.close()
    return result


def _count_states(
    live: dict[str, int], result: CampaignResult, batch: Batch, outcome: BatchOutcome
) -> None:
    """Add the states this outcome gave its recipients to the live counts."""
    if outcome.kind == "accepted" and len(outcome.accepted) == batch.size:
        live[SUBMITTED] += batch.size  # the usual answer, counted without looking
        return
    states = result.states[np.fromiter(batch.positions, dtype=np.int64, count=batch.size)]
    for state in live:
        live[state] += int((states == state).sum())


__all__ = ["ProgressEvent", "send_into", "send_settings"]
