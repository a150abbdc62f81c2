"""Inline SVG charts of a campaign, for notebooks, the form and reports (no plotting package).

* :mod:`.svg` — the primitives: :class:`Chart`, :func:`bar_chart`, :func:`line_chart`,
  :func:`interval_chart`;
* :mod:`.experiment` — :func:`outcome_chart`, :func:`delivery_chart`, :func:`variant_chart`,
  :func:`lift_chart`.

Example::

    from itnio_campaign.charts import outcome_chart
    outcome_chart(result)          # renders inline in Jupyter
"""

from __future__ import annotations

from .experiment import (
    ResultCharts,
    delivery_chart,
    lift_chart,
    outcome_chart,
    variant_chart,
)
from .svg import Chart, bar_chart, interval_chart, line_chart

__all__ = [
    "Chart",
    "ResultCharts",
    "bar_chart",
    "delivery_chart",
    "interval_chart",
    "lift_chart",
    "line_chart",
    "outcome_chart",
    "variant_chart",
]
