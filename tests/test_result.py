"""CampaignResult: the per-row state machine, as a pure function of plan + outcomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from itnio_campaign.models import DeliveryRecord
from itnio_campaign.plan import plan_campaign
from itnio_campaign.result import Accepted, BatchOutcome, CampaignResult


def plan_of(n: int = 4):  # type: ignore[no-untyped-def]
    df = pd.DataFrame({"phone": [f"+91 98{i:08d}" for i in range(n)] + ["12"]})
    return plan_campaign(df, "phone", "Hello")  # one request; the last row is skipped


def outcome(kind: str, **kw: object) -> BatchOutcome:
    return BatchOutcome(0, kind, kw.pop("code", "0"), kw.pop("reason", ""), 1, 10.0, 11.0, **kw)  # type: ignore[arg-type]


def accepted(plan, rows: list[int], success: int | None = None) -> BatchOutcome:  # type: ignore[no-untyped-def]
    batch = plan.batches[0]
    triples = [(batch.order_ids[i], batch.numbers[i], f"m{i}") for i in rows]
    n = len(rows) if success is None else success
    return outcome("accepted", success=n, fail=batch.size - n, accepted=Accepted.of(triples))


def states(result: CampaignResult) -> list[str]:
    return list(result.frame["state"])


def test_a_new_result_has_ready_rows_pending_and_skipped_rows_skipped() -> None:
    result = CampaignResult(plan_of())
    assert states(result) == ["pending"] * 4 + ["skipped_invalid"]
    assert sum(result.counts().values()) == 5


def test_accepted_numbers_get_their_msg_ids_and_the_rest_is_proven_refused() -> None:
    plan = plan_of()
    result = CampaignResult(plan)
    result.apply_outcome(accepted(plan, [0, 2]))  # the answer lists 2 of 4: 2 failed
    frame = result.frame
    assert states(result)[:4] == ["submitted", "rejected", "submitted", "rejected"]
    assert list(frame["msg_id"][:4].fillna("")) == ["m0", "", "m2", ""]
    assert "2 of 4 numbers in the request failed" in frame["reason"].iloc[1]


@pytest.mark.parametrize(
    ("kind", "state", "words"),
    [("rejected", "rejected", "-3"), ("unknown", "unknown", "run reconcile"),
     ("not_sent", "pending", "not sent"), ("fatal", "pending", "not sent")],
)  # fmt: skip
def test_each_failed_outcome_kind_sets_its_state(kind: str, state: str, words: str) -> None:
    result = CampaignResult(plan_of())
    result.apply_outcome(outcome(kind, code="-3" if kind == "rejected" else "HTTP 503"))
    assert states(result)[:4] == [state] * 4
    assert words in result.frame["reason"].iloc[0]


def test_a_later_outcome_of_the_same_request_wins() -> None:
    plan = plan_of()
    result = CampaignResult(plan)
    result.apply_outcome(outcome("not_sent", code="HTTP 503"))
    result.apply_outcome(accepted(plan, [0, 1, 2, 3]))
    assert states(result)[:4] == ["submitted"] * 4
    assert result.frame["reason"].iloc[:4].isna().all()


def test_delivery_reports_move_submitted_rows_by_msg_id() -> None:
    plan = plan_of()
    result = CampaignResult(plan)
    result.apply_outcome(accepted(plan, [0, 1, 2, 3]))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    changed = result.apply_delivery(
        [DeliveryRecord("m0", "", "delivered", at, "0"),
         DeliveryRecord("m1", "", "undelivered", at, "2"),
         DeliveryRecord("nope", "", "delivered", at, "0")]
    )  # fmt: skip
    assert changed == 2
    assert states(result)[:4] == ["delivered", "undelivered", "submitted", "submitted"]
    assert result.pending_delivery_ids() == ["m2", "m3"]


def test_conclude_calls_a_run_with_rows_left_incomplete() -> None:
    plan = plan_of()
    result = CampaignResult(plan)
    result.conclude("completed", None)
    assert result.status == "incomplete"
    assert result.remaining() == {"pending": 4}
    result.apply_outcome(accepted(plan, [0, 1, 2, 3]))
    result.conclude("completed", None)
    assert (result.status, result.halt_reason, result.remaining()) == ("completed", None, {})
    result.conclude("halted", "-10 balance")
    assert (result.status, result.halt_reason) == ("halted", "-10 balance")


def test_summary_counts_add_up_to_the_rows_and_speed_uses_sending_time() -> None:
    plan = plan_of()
    result = CampaignResult(plan)
    result.apply_outcome(accepted(plan, [0, 1, 2, 3]))
    result.active_seconds_before = 2.0  # an earlier session
    result.session_started_at, result.finished_at = 100.0, 102.0  # this one
    summary = result.summary()
    assert sum(summary.counts.values()) == summary.rows == 5
    assert summary.wall_time_s == 4.0 and summary.numbers_per_s == 1.0
