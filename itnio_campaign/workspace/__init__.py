"""The workspace: opt-outs, contact history and frequency caps shared by every campaign.

SQLite by default (one file, safe with several processes), PostgreSQL for a team
(``postgresql://`` URL, ``pip install 'itnio-campaign[postgres]'``).

Example::

    from itnio_campaign.workspace import Workspace
    ws = Workspace()                       # $ITNIO_WORKSPACE, else ./itnio-workspace.sqlite
    ws.add_optouts("crm_optouts.csv", source="crm-export")
    print(await ws.sync(client))           # replies (STOP/START) and delivery states
    plan = plan_campaign(df, content="Hi {name}", workspace=ws, frequency_cap="1/24h,4/30d")
    ws.history("+91 98765 43210"); ws.campaigns()
"""

from __future__ import annotations

import os
from typing import Any

from .backend import WorkspaceError, mask
from .caps import CapRule, parse_frequency_cap, parse_repeat_guard
from .core import SyncReport
from .core import Workspace as _Core
from .keywords import LANGUAGES, OPT_IN, OPT_OUT, Keywords


class Workspace(_Core):
    __doc__ = _Core.__doc__

    def __init__(
        self, location: str | os.PathLike[str] | None = None, *, keywords: Keywords | None = None
    ) -> None:
        super().__init__(location, keywords=keywords)
        from .repair import repair

        #: Ledgers that could not be re-recorded on open (crash repair), one note each.
        self.repair_notes: list[str] = repair(self)


def open_workspace(value: Any) -> _Core | None:
    """A workspace from ``value``: a Workspace, a location (path or URL), or ``None``."""
    if value is None or value is False:
        return None
    if isinstance(value, _Core):
        return value
    return Workspace(value)


__all__ = [
    "LANGUAGES",
    "OPT_IN",
    "OPT_OUT",
    "CapRule",
    "Keywords",
    "SyncReport",
    "Workspace",
    "WorkspaceError",
    "mask",
    "open_workspace",
    "parse_frequency_cap",
    "parse_repeat_guard",
]
