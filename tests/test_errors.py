"""The error tree, the status table, and what an outcome means for its recipients."""

from __future__ import annotations

import pytest

from itnio_campaign import errors
from itnio_campaign.errors import (
    OUTCOME_KINDS,
    RESUMABLE_KINDS,
    AmbiguousError,
    ApiError,
    FatalApiError,
    ItnioError,
    NotSentError,
    RedirectError,
    RejectedError,
    TransientApiError,
    api_error,
    describe,
    outcome_kind,
)
from itnio_campaign.models import ALL_STATES


@pytest.mark.parametrize(
    ("code", "cls"),
    [("-1", FatalApiError), ("-2", FatalApiError), ("-10", FatalApiError),
     ("-13", FatalApiError), ("-15", TransientApiError), ("-16", TransientApiError),
     ("-3", RejectedError), ("-999", RejectedError)],
)  # fmt: skip
def test_api_error_maps_each_status_to_its_class(code: str, cls: type[ApiError]) -> None:
    exc = api_error("sendSms", code, "why")
    assert type(exc) is cls and exc.code == code and "why" in str(exc)


def test_an_undocumented_status_is_a_rejection_not_a_crash() -> None:
    row = describe("-4242")
    assert row.kind == "rejected" and "undocumented" in row.meaning


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (AmbiguousError("sendSms", "timeout", "read timed out"), "unknown"),
        (api_error("sendSms", "-10", "balance"), "fatal"),
        (RedirectError("sendSms", 302, "http://elsewhere/x"), "fatal"),
        (NotSentError("sendSms", "HTTP 503", "unavailable"), "not_sent"),
        (api_error("sendSms", "-16", "too frequent"), "not_sent"),
        (api_error("sendSms", "-3", "sensitive words"), "rejected"),
    ],
)
def test_outcome_kind_of_each_error(exc: errors.RequestError, kind: str) -> None:
    assert outcome_kind(exc) == kind


def test_only_provably_unaccepted_outcomes_are_resumable() -> None:
    assert {"not_sent", "fatal"} == RESUMABLE_KINDS
    # "unknown" may have been accepted and "rejected" would be refused again: never resent.
    assert {"unknown", "rejected", "accepted"}.isdisjoint(RESUMABLE_KINDS)
    assert {state for state, _ in OUTCOME_KINDS.values()} <= set(ALL_STATES)


def test_every_error_is_an_itnio_error() -> None:
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert all(issubclass(c, ItnioError) for c in classes)
