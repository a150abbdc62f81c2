"""The base vocabulary: states, failure states, requests and answers as plain values."""

from __future__ import annotations

import dataclasses

import pytest

from itnio_campaign import models
from itnio_campaign.models import (
    ACCEPTED_STATES,
    ALL_STATES,
    FAILURE_STATES,
    OUTCOME_COLUMNS,
    SKIPPED_STATES,
    UNFINISHED_STATES,
    Batch,
    BatchItem,
    SendResult,
)


def test_every_state_group_uses_the_one_vocabulary() -> None:
    vocabulary = set(ALL_STATES)
    assert len(vocabulary) == len(ALL_STATES)
    for group in (SKIPPED_STATES, ACCEPTED_STATES, FAILURE_STATES, UNFINISHED_STATES):
        assert set(group) <= vocabulary
    assert set(UNFINISHED_STATES) <= set(FAILURE_STATES)  # unfinished rows are listed
    assert not set(ACCEPTED_STATES) & set(UNFINISHED_STATES)


def test_batch_numbers_and_order_ids_follow_positions_across_items() -> None:
    batch = Batch(
        7,
        "sendSms/batch",
        (BatchItem(("91a", "91b"), "Hi A", order_ids=("o1", "o2")), BatchItem(("91c",), "Hi C")),
        (4, 9, 2),
    )
    assert batch.size == 3
    assert batch.numbers == ("91a", "91b", "91c")
    assert batch.order_ids == ("o1", "o2", "")


def test_values_are_frozen() -> None:
    result = SendResult(1, 0, msg_ids=("m",), numbers=("91",), order_ids=("o",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.success = 2  # type: ignore[misc]
    assert result.submissions[0].order_id == "o"
    assert SendResult(1, 0, ("m",), ("91",), ("",)).submissions[0].order_id is None


def test_outcome_columns_are_unique_and_include_the_state() -> None:
    assert len(set(OUTCOME_COLUMNS)) == len(OUTCOME_COLUMNS) and "state" in OUTCOME_COLUMNS
    assert models.OUTCOME_COLUMNS is OUTCOME_COLUMNS
