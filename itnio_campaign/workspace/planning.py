"""The workspace's step in :func:`~itnio_campaign.plan.plan_campaign` (and its summary).

Applied last, to rows otherwise ready: opted-out numbers, recipients over a frequency cap and
recipients who recently got the same content are skipped with a reason. The plan's settings
record the workspace (password masked), the cap and the guard, so sending re-checks them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..models import SKIPPED_ALREADY_SENT, SKIPPED_FREQUENCY_CAP, SKIPPED_OPTED_OUT
from .caps import describe_guard, parse_frequency_cap, parse_repeat_guard
from .core import Workspace

_SOURCE = re.compile(r"^opted out \((.*), \d{4}-\d\d-\d\d\)$")
_RULE = re.compile(r"^(frequency cap [^:]+):")


@dataclass(frozen=True)
class WorkspaceStep:
    """What plan_campaign was asked: the workspace (or None), the cap and the guard."""

    workspace: Workspace | None
    frequency_cap: str | None
    repeat_guard: float | None

    def settings(self) -> dict[str, Any]:
        """The plan's settings for it (nothing when no workspace was given)."""
        if self.workspace is None:
            return {}
        return {
            "workspace": self.workspace.location,
            "frequency_cap": self.frequency_cap,
            "repeat_guard": describe_guard(self.repeat_guard),
            "workspace_review": self.workspace.review_count(),
        }


def workspace_step(workspace: Any, frequency_cap: Any, repeat_guard: Any) -> WorkspaceStep:
    """Check the arguments and open the workspace, before any work (errors come first)."""
    rules = parse_frequency_cap(frequency_cap)
    guard = parse_repeat_guard(repeat_guard)
    if workspace is None or workspace is False:
        if rules:
            raise UsageError(
                "frequency_cap needs a workspace (the history of what was sent): "
                "plan_campaign(..., workspace=Workspace(), frequency_cap=...)"
            )
        return WorkspaceStep(None, None, None)
    if isinstance(workspace, Workspace):
        ws = workspace
    elif isinstance(workspace, str | os.PathLike):
        ws = Workspace(workspace)
    else:
        raise UsageError(
            f"workspace must be a Workspace, a path or a postgresql:// URL, not "
            f"{type(workspace).__name__}"
        )
    cap = ",".join(r.text for r in rules) or None
    return WorkspaceStep(ws, cap, guard)


def apply_workspace(
    step: WorkspaceStep,
    number: pd.Series,
    content: pd.Series,
    valid: np.ndarray,
    state: np.ndarray,
    reason: np.ndarray,
) -> None:
    """Skip the ``valid`` rows the workspace excludes (arrays changed in place)."""
    if step.workspace is None or not valid.any():
        return
    at = np.flatnonzero(valid)
    found = step.workspace.exclusions(
        number.iloc[at].reset_index(drop=True),
        content.iloc[at].reset_index(drop=True),
        frequency_cap=step.frequency_cap,
        repeat_guard=step.repeat_guard or False,
    )
    new_state = found["state"].to_numpy(dtype=object)
    hit = pd.notna(new_state)
    rows = at[hit]
    state[rows] = new_state[hit]
    reason[rows] = found["reason"].to_numpy(dtype=object)[hit]
    valid[rows] = False


def reason_keys(state: pd.Series, reason: pd.Series, key: pd.Series) -> None:
    """Group keys of the workspace's reasons in the dry run (``key`` changed in place):
    opt-outs by source, caps by rule, repeats together (their dates are per row)."""
    for name, pattern in ((SKIPPED_OPTED_OUT, _SOURCE), (SKIPPED_FREQUENCY_CAP, _RULE)):
        mask = (state == name).to_numpy()
        if mask.any():
            key[mask] = reason[mask].str.extract(pattern, expand=False).fillna("").to_numpy()
    key[(state == SKIPPED_ALREADY_SENT).to_numpy()] = ""


def summary_line(counts: dict[str, int], review: int | None) -> str:
    """``"3 opted out (workspace), 2 over the frequency cap, 1 already sent this content"``."""
    text = (
        f"{counts.get(SKIPPED_OPTED_OUT, 0):,} opted out (workspace), "
        f"{counts.get(SKIPPED_FREQUENCY_CAP, 0):,} over the frequency cap, "
        f"{counts.get(SKIPPED_ALREADY_SENT, 0):,} already sent this content"
    )
    if review:
        text += f"; {review:,} repl{'y awaits' if review == 1 else 'ies await'} review"
    return text
