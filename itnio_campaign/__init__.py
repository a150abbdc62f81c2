"""itnio-campaign: bulk SMS campaigns through the Itniotech SMS API, from Jupyter.

>>> from itnio_campaign import plan_campaign, send_campaign, AsyncClient, Credentials

Example::

    plan = plan_campaign(df, number_col="phone", content="Hi {first_name}!")
    print(plan.summary())                              # the dry run
    async with AsyncClient(Credentials.from_env()) as client:
        result = await send_campaign(plan, client, ledger="spring-promo.sqlite")

Names are imported on first use, so ``import itnio_campaign`` stays cheap (the widgets and
the Excel writer load only when asked for).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import ClientSettings, Credentials, RetryPolicy, Timeouts
from .errors import (
    AmbiguousError,
    ApiError,
    ConfigError,
    FatalApiError,
    ItnioError,
    LedgerError,
    NotSentError,
    RedirectError,
    RejectedError,
    ReportError,
    TransientApiError,
    UsageError,
)

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    "AsyncClient": "client",
    "plan_campaign": "plan",
    "Plan": "plan",
    "PlanSummary": "plan",
    "count_segments": "message",
    "normalize_number": "numbers",
    "normalize_numbers": "numbers",
    "send_campaign": "runner",
    "SendOptions": "options",
    "Gate": "trial",
    "parse_gate": "trial",
    "send_test": "testsend",
    "run_campaign": "runner",
    "build_batches": "runner",
    "send_batches": "runner",
    "join_responses": "runner",
    "CampaignResult": "result",
    "ResultSummary": "result",
    "resume_campaign": "recovery",
    "reconcile_campaign": "recovery",
    "load_campaign": "recovery",
    "refresh_delivery": "delivery",
    "watch_delivery": "delivery",
    "fetch_replies": "delivery",
    "opt_outs": "delivery",
    "write_report": "excel",
    "CampaignForm": "widgets",
    "measure_lift": "experiment",
    "LiftResult": "experiment",
    "rollout_winner": "rollout",
    "RolloutResult": "rollout",
}

__all__ = [
    "AmbiguousError",
    "ApiError",
    "AsyncClient",
    "CampaignForm",
    "CampaignResult",
    "ClientSettings",
    "ConfigError",
    "Credentials",
    "FatalApiError",
    "Gate",
    "ItnioError",
    "LedgerError",
    "LiftResult",
    "NotSentError",
    "Plan",
    "PlanSummary",
    "RedirectError",
    "RejectedError",
    "ReportError",
    "ResultSummary",
    "RetryPolicy",
    "RolloutResult",
    "SendOptions",
    "Timeouts",
    "TransientApiError",
    "UsageError",
    "build_batches",
    "count_segments",
    "fetch_replies",
    "join_responses",
    "load_campaign",
    "measure_lift",
    "normalize_number",
    "normalize_numbers",
    "opt_outs",
    "parse_gate",
    "plan_campaign",
    "reconcile_campaign",
    "refresh_delivery",
    "resume_campaign",
    "rollout_winner",
    "run_campaign",
    "send_batches",
    "send_campaign",
    "send_test",
    "watch_delivery",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'itnio_campaign' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .client import AsyncClient
    from .delivery import fetch_replies, opt_outs, refresh_delivery, watch_delivery
    from .excel import write_report
    from .experiment import LiftResult, measure_lift
    from .message import count_segments
    from .numbers import normalize_number, normalize_numbers
    from .options import SendOptions
    from .plan import Plan, PlanSummary, plan_campaign
    from .recovery import load_campaign, reconcile_campaign, resume_campaign
    from .result import CampaignResult, ResultSummary
    from .rollout import RolloutResult, rollout_winner
    from .runner import build_batches, join_responses, run_campaign, send_batches, send_campaign
    from .testsend import send_test
    from .trial import Gate, parse_gate
    from .widgets import CampaignForm
