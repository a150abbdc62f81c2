"""``CampaignForm``: a campaign in a Jupyter cell — pick, write, dry-run, confirm, send, report.

The form is a thin layer: every action calls the same functions a notebook user would
(:func:`~itnio_campaign.plan.plan_campaign`, :func:`~itnio_campaign.runner.send_campaign`,
:func:`~itnio_campaign.delivery.refresh_delivery`, :func:`~itnio_campaign.excel.write_report`).
Sending runs as a task on the kernel's running event loop, so the kernel stays responsive
and **Stop** works. Errors are shown in the form in plain words, never as a traceback.

Example::

    form = CampaignForm(df, credentials=sandbox.credentials)
    form                      # the last expression of a cell displays it
    form.plan, form.result    # what the user built, for further code
"""

from __future__ import annotations

import asyncio
import base64
import html
import os
import re
import time
from collections import Counter
from collections.abc import Coroutine, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from .config import Credentials
from .contacts import guess_number_column, read_numbers
from .errors import ItnioError, UsageError
from .message import count_segments_cached, render_frame, template_fields
from .models import FAILURE_STATES, check_sender_id
from .options import SendOptions
from .result import CampaignResult, Stopper
from .send_gate import EarlierCampaign, SendGate, find_earlier_campaign
from .smart_encoding import char_name, replacement_for, smart_encode, ucs2_chars
from .suppression import SuppressionList, read_suppression, read_suppressions
from .trial import Gate, describe_trial, parse_gate, parse_share

_NO_COLUMN = ""  # the orderId picker's "none" (a Dropdown's None means "nothing selected")
#: Rows the live counter renders at most (keystrokes must stay instant on big frames).
COUNTER_SAMPLE_ROWS = 10_000
PREVIEW_ROWS = 3
TABLE_ROWS = 20
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- pure helpers (tested on their own) ---------------------------------------------------
@dataclass(frozen=True)
class ContentStats:
    """What the live counter shows for one template over the frame."""

    chars: int
    encoding: str
    segments: int
    fields: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    min_segments: int = 0
    max_segments: int = 0
    ucs2_share: float = 0.0
    rows: int = 0
    sampled: bool = False
    error: str | None = None
    #: Characters that force UCS-2 (template and rendered rows, each once): they cost money.
    ucs2_chars: str = ""
    #: Rendered messages per number of segments (over the rows counted).
    histogram: dict[int, int] = field(default_factory=dict)

    def describe(self) -> str:
        """One line of plain text, e.g. ``"42 characters · GSM-7 · 1 segment"``."""
        if self.error:
            return self.error
        head = f"{self.chars:,} characters · {self.encoding} · {_plural(self.segments, 'segment')}"
        if not self.fields or self.unknown or not self.rows:
            return head
        seg = (
            f"{self.min_segments}–{self.max_segments} segments"
            if self.min_segments != self.max_segments
            else _plural(self.max_segments, "segment")
        )
        enc = (
            f"UCS-2 for {_percent(self.ucs2_share)} of rows"
            if 0 < self.ucs2_share < 1
            else ("UCS-2" if self.ucs2_share >= 1 else "GSM-7")
        )
        where = f" (first {self.rows:,} rows)" if self.sampled else ""
        return f"template: {head} — rendered{where}: {seg}, {enc}"


def content_stats(
    template: str, df: pd.DataFrame, sample_rows: int = COUNTER_SAMPLE_ROWS
) -> ContentStats:
    """Characters, encoding and segments of ``template``; over the rendered rows if it has fields.

    >>> content_stats("Hi {name}", pd.DataFrame({"name": ["Ann", "Zoë"]})).describe()
    'template: 9 characters · GSM-7 · 1 segment — rendered: 1 segment, UCS-2 for 50% of rows'
    """
    encoding, segments = count_segments_cached(template)
    base = ContentStats(len(template), encoding, segments, ucs2_chars=ucs2_chars(template))
    try:
        fields = template_fields(template)
    except UsageError as exc:
        return ContentStats(len(template), encoding, segments, error=str(exc))
    if not fields:
        return base
    columns = {str(c) for c in df.columns}
    unknown = tuple(f for f in fields if f not in columns)
    if unknown:
        return ContentStats(len(template), encoding, segments, fields, unknown)
    frame = df.head(sample_rows)
    rendered = render_frame(template, frame)
    texts = rendered.content[rendered.missing == ""]
    if texts.empty:
        return ContentStats(len(template), encoding, segments, fields)
    distinct = texts.astype(str)
    counted = [count_segments_cached(t) for t in distinct]
    segs = [s for _, s in counted]
    ucs2 = sum(e == "UCS-2" for e, _ in counted) / len(counted)
    offenders = dict.fromkeys(ucs2_chars(template))
    for text in distinct.unique():
        if count_segments_cached(text)[0] == "UCS-2":
            offenders.update(dict.fromkeys(ucs2_chars(text)))
    return ContentStats(
        len(template), encoding, segments, fields, (), min(segs), max(segs), ucs2,
        len(frame), len(df) > sample_rows, ucs2_chars="".join(offenders),
        histogram=dict(sorted(Counter(segs).items())),
    )  # fmt: skip


def offenders_html(stats: ContentStats) -> str:
    """The characters that make messages UCS-2 (more segments, more cost), each with its name
    and the GSM-7 look-alike smart encoding would use; "" when there are none.

    >>> "RIGHT SINGLE QUOTATION MARK" in offenders_html(ContentStats(5, "UCS-2", 1, ucs2_chars="’"))
    True
    """
    if not stats.ucs2_chars:
        return ""
    items = []
    for char in stats.ucs2_chars[:8]:
        swap = replacement_for(char)
        then = (
            f" → <code>{html.escape(swap)}</code>" if swap is not None else " (no GSM-7 look-alike)"
        )
        items.append(f"<mark>{html.escape(char)}</mark> {html.escape(char_name(char))}{then}")
    more = len(stats.ucs2_chars) - 8
    tail = f"; and {more} more" if more > 0 else ""
    return (
        "<div class='itnio-offenders'>UCS-2 (70 characters a segment instead of 160) because of: "
        + "; ".join(items)
        + tail
        + "</div>"
    )


def histogram_html(histogram: dict[int, int]) -> str:
    """Messages per number of segments as small bars ("" for fewer than two sizes).

    >>> "2 segments" in histogram_html({1: 30, 2: 10})
    True
    """
    if len(histogram) < 2:
        return ""
    top = max(histogram.values())
    bars = "".join(
        f"<div><span style='display:inline-block;width:{max(2, round(120 * n / top))}px;"
        f"height:0.8em;background:#6a8'></span> {_plural(k, 'segment')}: {n:,}</div>"
        for k, n in histogram.items()
    )
    return f"<div class='itnio-histogram'>Segments per message:{bars}</div>"


def mark_ucs2(text: str, chars: str) -> str:
    """``text`` HTML-escaped, with each of ``chars`` highlighted."""
    escaped = html.escape(text)
    for char in chars:
        escaped = escaped.replace(html.escape(char), f"<mark>{html.escape(char)}</mark>")
    return escaped


def read_suppression_file(name: str, content: bytes) -> list[str]:
    """Numbers from an uploaded CSV/TXT/XLSX/Parquet, as text: the only column or the phone
    column; a file without a header row works too (see :func:`.contacts.read_numbers`).

    >>> read_suppression_file("optout.csv", b"phone\\n+919876543210\\n")
    ['+919876543210']
    """
    return read_numbers(content, name=name)


def _number_column_default(df: pd.DataFrame) -> Hashable | None:
    """The guessed phone column, else the first column (a Dropdown needs a value)."""
    guess = guess_number_column(df)
    if guess is None and len(df.columns):
        return df.columns[0]
    return guess


def default_workspace_location() -> str:
    """Where the default workspace is: ``ITNIO_WORKSPACE``, else ./itnio-workspace.sqlite.

    Example::

        default_workspace_location()  ->  "itnio-workspace.sqlite"
    """
    return os.environ.get("ITNIO_WORKSPACE") or "itnio-workspace.sqlite"


def download_link(path: Path, label: str | None = None) -> str:
    """An HTML ``<a download>`` carrying the file as a data: URI (works in Voilà too)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.name, quote=True)
    text = html.escape(label or f"Download {path.name}")
    return (
        f'<a class="itnio-download-link" download="{name}" '
        f'href="data:{XLSX_MIME};base64,{data}">{text}</a>'
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _percent(share: float) -> str:
    pct = share * 100
    return f"{pct:.0f}%" if pct >= 1 else f"{pct:.1g}%"


def _table_html(df: pd.DataFrame, rows: int = TABLE_ROWS) -> str:
    more = f"<p>… {len(df) - rows:,} more rows</p>" if len(df) > rows else ""
    return df.head(rows).to_html(escape=True, na_rep="", border=0) + more


def _note(text: str, kind: str = "info") -> str:
    colour = {"error": "#b00020", "warn": "#8a5a00", "ok": "#1b5e20"}.get(kind, "#333")
    return f'<div style="color:{colour}">{html.escape(text)}</div>'


def skipped_html(plan: Any, df: pd.DataFrame, number_col: Any) -> str:
    """The dry run's skipped rows: row, what the user typed, state and reason."""
    rec = plan.recipients
    skipped = rec[rec["state"].astype(str).str.startswith("skipped")]
    if skipped.empty:
        return _note("No rows skipped.", "ok")
    table = skipped[["state", "reason"]].copy()
    if number_col in df.columns:  # what the user typed, not the normalised number
        table.insert(0, str(number_col), df.loc[skipped.index, number_col])
    table.insert(0, "row", skipped.index)
    return f"<div>Skipped rows ({len(skipped):,}):</div>" + _table_html(
        table.reset_index(drop=True)
    )


def campaign_words(earlier: EarlierCampaign | None, n: int, send_again: bool) -> tuple[str, str]:
    """(the note above Send, the confirmation's label) for a new campaign, a continuation
    of an earlier one, or a send to everyone again.

    >>> campaign_words(None, 3, False)[1]
    'Send 3 SMS now'
    """
    if earlier is None:
        return "", f"Send {n:,} SMS now"
    if send_again:
        note = _note(
            f"This campaign was sent before ({earlier.name}). Sending again sends it to all "
            f"{n:,} recipients, also those who already got it.", "warn",
        )  # fmt: skip
        return note, f"Send {n:,} SMS again to everyone"
    if earlier.ledger is None:
        note = _note(
            "This form already sent this plan without a ledger, so it cannot continue it. "
            'Tick "Send again to everyone" to send it again.', "warn",
        )  # fmt: skip
        return note, "Nothing to continue"
    done = ", ".join(f"{k} {v:,}" for k, v in earlier.counts.items())
    note = _note(
        f"This plan was already sent from {earlier.name} ({done}). Send continues that "
        f"campaign: only the {n:,} not sent yet." + ("" if n else " Nobody is left to send."),
        "info" if n else "ok",
    )
    return note, f"Send the {n:,} not sent yet"


# --- the form -----------------------------------------------------------------------------
class CampaignForm:
    """A campaign form for one DataFrame. Displays itself; keeps ``plan`` and ``result``.

    ``credentials`` None reads ``ITNIO_*`` from the environment (or ``.env``); a missing or
    unsafe setting is shown in the form, not raised. ``ledger_dir`` is where each send
    keeps its ledger (``campaign-<timestamp>.sqlite``); None sends without a ledger.
    "Use opt-outs from replies" suppresses numbers that replied STOP in the last
    ``optout_days`` days.
    With send windows ("When to send"), Send waits for each zone's window on ``clock``
    (epoch seconds) and ``sleep`` (awaitable); None: the real ones (tests pass a fast clock).

    ``workspace`` is the memory of all campaigns the dry run checks (opt-outs, frequency caps,
    the repeat guard; see :mod:`itnio_campaign.workspace`): ``"default"`` (``ITNIO_WORKSPACE``,
    else ./itnio-workspace.sqlite), a path, a ``postgresql://`` URL or a ``Workspace``;
    ``None`` ticks "No workspace". ``frequency_cap`` fills its field (e.g. ``"1/24h,4/30d"``).

    Example::

        form = CampaignForm(df, credentials=sandbox.credentials, ledger_dir="ledgers")
        form.dry_run_button.click(); form.confirm.value = True; form.send_button.click()
        await form.sending_task; form.result.summary()
    """

    def __init__(
        self,
        df: pd.DataFrame,
        credentials: Credentials | None = None,
        *,
        default_region: str = "IN",
        ledger_dir: str | Path | None = ".",
        report_dir: str | Path = ".",
        concurrency: int | None = None,
        rate: float | None = None,
        options: SendOptions | None = None,
        prices: Any = None,
        client_settings: Any = None,
        optout_days: int = 30,
        clock: Any = None,
        sleep: Any = None,
        workspace: Any = "default",
        frequency_cap: str = "",
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"CampaignForm needs a pandas DataFrame, not {type(df).__name__}")
        self.df = df
        self.plan: Any = None
        self.result: CampaignResult | None = None
        self.ledger_dir = None if ledger_dir is None else Path(ledger_dir)
        self.report_dir = Path(report_dir)
        #: How Send sends (``concurrency=``/``rate=`` override ``options``); no progress bar:
        #: the form has its own.
        self.send_options = SendOptions.of(
            options, concurrency=concurrency, rate=rate, progress=False
        )
        self.prices = prices
        self.client_settings = client_settings
        self.optout_days = optout_days
        #: Send windows wait on this clock (epoch seconds) and sleep; None: the real ones.
        self.clock, self.sleep = clock, sleep
        #: The workspace the dry run checks (opened there; see ``_workspace_keywords``).
        self.workspace: Any = None
        self._workspace_init, self._frequency_cap_init = workspace, frequency_cap
        self._plan_kwargs: dict[str, Any] = {}  # the last dry run's plan_campaign keywords
        #: The running tasks, for code (and tests) that want to await them.
        self.sending_task: asyncio.Task[None] | None = None
        self.balance_task: asyncio.Task[None] | None = None
        self.delivery_task: asyncio.Task[None] | None = None
        self.optout_task: asyncio.Task[None] | None = None
        self.test_task: asyncio.Task[None] | None = None
        self.ledger_path: Path | None = None
        self.report_path: Path | None = None
        self._stopper: Stopper | None = None
        #: When Send may send, and how many (plain state; the form only shows it).
        self.gate = SendGate()
        self.plan_number_col: Any = None
        self._suppress_upload: SuppressionList | None = None
        self._suppress_optouts: list[str] = []
        self.credentials: Credentials | None = None
        self._credentials_error: str | None = None
        if credentials is None:
            try:
                credentials = Credentials.from_env()
            except ItnioError as exc:
                self._credentials_error = f"No credentials: {exc}. You can still dry-run."
        self.credentials = credentials
        self.gate.has_credentials = credentials is not None
        self._build(default_region)
        self._build_workspace()
        self._wire()
        self._on_content()
        self._invalidate()
        if self._credentials_error:
            self._error(self._credentials_error)

    # -- layout ----------------------------------------------------------------------------
    def _build(self, default_region: str) -> None:
        cols = [str(c) for c in self.df.columns]
        self.number_col = w.Dropdown(
            options=[(str(c), c) for c in self.df.columns],
            value=_number_column_default(self.df),
            description="Numbers",
        )
        self.order_id_col = w.Dropdown(
            options=[("(none: generated)", _NO_COLUMN)] + [(str(c), c) for c in self.df.columns],
            value=_NO_COLUMN,
            description="orderId",
        )
        self.region = w.Text(value=default_region, description="Region", placeholder="e.g. IN")
        self.sender_id = w.Text(value="", description="Sender id", placeholder="optional, ≤32")
        self.sender_note = w.HTML()
        self.content = w.Textarea(
            value="",
            placeholder="Your message. Click a column below to insert {column}.",
            description="Message",
            layout=w.Layout(width="95%", height="6em"),
        )
        self.counter = w.HTML()
        self.smart_encoding = w.Checkbox(
            value=False,
            description="Smart encoding (also in the {placeholder} values)",
            indent=False,
            layout=w.Layout(width="auto"),
        )
        self.smart_button = w.Button(
            description="Replace with GSM-7 look-alikes",
            tooltip="smart encoding: ’ “ ” — … and special spaces become ' \" - ... and a space",
            layout=w.Layout(width="auto", display="none"),
        )
        self.placeholder_note = w.HTML()
        self.placeholder_buttons = [
            w.Button(
                description=f"{{{c}}}", tooltip=f"insert {{{c}}}", layout=w.Layout(width="auto")
            )
            for c in cols
        ]
        self.preview = w.HTML()
        wide = w.Layout(width="auto")  # labels in full, not cut at the default width
        self.upload = w.FileUpload(accept=".csv,.tsv,.txt,.xlsx,.parquet", multiple=False,
                                   description="Suppression list", layout=wide)  # fmt: skip
        self.use_optouts = w.Button(description="Use opt-outs from replies", layout=wide)
        self.suppress_note = w.HTML()
        self.dry_run_button = w.Button(description="Dry run", button_style="info", icon="search")
        self.summary = w.HTML()
        self.skipped = w.HTML()
        self.confirm = w.Checkbox(value=False, description="Send 0 SMS now", indent=False)
        self.send_again = w.Checkbox(
            value=False,
            description="Send again to everyone (also those who already got it)",
            indent=False,
            layout=wide,
        )
        self.campaign_note = w.HTML()
        self.seeds = w.Text(
            value="", description="Seeds", placeholder="staff phones, e.g. +91 98765 43210",
            layout=w.Layout(width="60%"),
        )  # fmt: skip
        self.test_button = w.Button(description="Test send", icon="flask", layout=wide)
        self.test_result = w.HTML()
        self.trial = w.Text(value="", description="Trial", placeholder="e.g. 2% (empty: none)")
        self.gate_rule = w.Text(value="delivered>=90%,rejected<=2%", description="Gate")
        self.gate_wait = w.Text(value="15m", description="Gate wait")
        self.send_button = w.Button(description="Send", button_style="danger", icon="paper-plane")
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Sent")
        self.progress_label = w.HTML()
        self.result_html = w.HTML()
        self.refresh_button = w.Button(description="Refresh delivery", icon="refresh")
        self.export_button = w.Button(description="Export Excel", icon="download")
        self.download = w.HTML()
        self.failures = w.HTML()
        self.errors = w.HTML()

        for widget, css in (
            (self.number_col, "itnio-number-col"), (self.order_id_col, "itnio-order-col"),
            (self.region, "itnio-region"), (self.sender_id, "itnio-sender"),
            (self.sender_note, "itnio-sender-note"), (self.content, "itnio-content"),
            (self.counter, "itnio-counter"), (self.smart_button, "itnio-smart-encoding"),
            (self.placeholder_note, "itnio-placeholder-note"),
            (self.preview, "itnio-preview"), (self.upload, "itnio-upload"),
            (self.use_optouts, "itnio-optouts"), (self.suppress_note, "itnio-suppress-note"),
            (self.dry_run_button, "itnio-dryrun"), (self.summary, "itnio-summary"),
            (self.skipped, "itnio-skipped"), (self.confirm, "itnio-confirm"),
            (self.send_again, "itnio-send-again"), (self.campaign_note, "itnio-campaign-note"),
            (self.seeds, "itnio-seeds"), (self.test_button, "itnio-test-send"),
            (self.test_result, "itnio-test-result"), (self.trial, "itnio-trial"),
            (self.gate_rule, "itnio-gate"), (self.gate_wait, "itnio-gate-wait"),
            (self.send_button, "itnio-send"), (self.stop_button, "itnio-stop"),
            (self.progress, "itnio-progress"), (self.progress_label, "itnio-progress-label"),
            (self.result_html, "itnio-result"), (self.refresh_button, "itnio-refresh"),
            (self.export_button, "itnio-export"), (self.download, "itnio-download"),
            (self.failures, "itnio-failures"), (self.errors, "itnio-error"),
        ):  # fmt: skip
            widget.add_class(css)
        for button in self.placeholder_buttons:
            button.add_class("itnio-placeholder")

        def section(title: str, *children: w.Widget) -> w.VBox:
            return w.VBox([w.HTML(f"<b>{html.escape(title)}</b>"), *children])

        self.when = ScheduleFields()  # send windows (issue 14)
        self.view = w.VBox(
            [
                self.errors,
                section("Recipients", w.HBox([self.number_col, self.order_id_col]),
                        w.HBox([self.region, self.sender_id]), self.sender_note),
                section("Message", self.content, self.counter,
                        w.HBox([self.smart_button, self.smart_encoding]), self.placeholder_note,
                        w.HBox(self.placeholder_buttons, layout=w.Layout(flex_flow="row wrap")),
                        self.preview),
                section("Suppression", w.HBox([self.upload, self.use_optouts]),
                        self.suppress_note),
                section("When to send", *self.when.rows()),
                section("Dry run", self.dry_run_button, self.summary, self.skipped),
                self.when.schedule,
                section("Test send and trial", w.HBox([self.seeds, self.test_button]),
                        self.test_result, w.HBox([self.trial, self.gate_rule, self.gate_wait])),
                section("Send", self.campaign_note, self.confirm, self.send_again,
                        w.HBox([self.send_button, self.stop_button]),
                        self.progress, self.progress_label),
                section("Result", self.result_html,
                        w.HBox([self.refresh_button, self.export_button]), self.download,
                        self.failures),
            ],
        )  # fmt: skip
        self.view.add_class("itnio-form")
        self._build_experiment()

    def _wire(self) -> None:
        for widget in (
            self.number_col, self.order_id_col, self.region, self.sender_id, self.smart_encoding
        ):  # fmt: skip
            widget.observe(lambda _: self._invalidate(), names="value")
        self.sender_id.observe(lambda _: self._check_sender(), names="value")
        self.region.observe(lambda _: self._check_region(), names="value")
        self.content.observe(lambda _: self._on_content(), names="value")
        self.smart_button.on_click(lambda _: self.use_smart_encoding())
        self.content.observe(lambda _: self._invalidate(), names="value")
        self.upload.observe(lambda _: self._on_upload(), names="value")
        self.confirm.observe(lambda _: self._update_send_state(), names="value")
        self.send_again.observe(lambda _: self._on_send_again(), names="value")
        for widget in (self.trial, self.gate_rule, self.gate_wait):
            widget.observe(lambda _: self._on_send_again(), names="value")
        self.test_button.on_click(lambda _: self.test_send())
        for col, button in zip(self.df.columns, self.placeholder_buttons, strict=True):
            button.on_click(lambda _, c=str(col): self.insert_placeholder(c))
        self.use_optouts.on_click(lambda _: self._start("optout_task", self._fetch_optouts()))
        self.dry_run_button.on_click(lambda _: self.dry_run())
        self.when.observe(self._invalidate)
        self.send_button.on_click(lambda _: self.send())
        self.stop_button.on_click(lambda _: self.stop())
        self.refresh_button.on_click(lambda _: self._start("delivery_task", self._refresh()))
        self.export_button.on_click(lambda _: self.export())

    # -- display ---------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.view._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        state = "sent" if self.result is not None else "planned" if self.plan is not None else "new"
        return f"<CampaignForm {state}: {len(self.df):,} rows>"

    # -- settings --------------------------------------------------------------------------
    def settings_key(self) -> tuple[Any, ...]:
        """Everything a dry run depends on; Send needs a dry run of exactly this."""
        return (
            self.number_col.value,
            self.order_id_col.value,
            self.region.value.strip().upper(),
            self.sender_id.value.strip(),
            self.content.value,
            bool(self.smart_encoding.value),
            tuple(sorted(self._suppress_upload.numbers)) if self._suppress_upload else (),
            tuple(self._suppress_optouts),
            *self.when.key(),
            self.experiment_key(),
            self._workspace_key(),
        )

    def _suppression(self) -> SuppressionList | None:
        """The uploaded list and the opt-outs from replies, as one list (None: neither)."""
        sources: list[Any] = [self._suppress_upload] if self._suppress_upload else []
        if self._suppress_optouts:
            sources.append(list(self._suppress_optouts))
        region = self.region.value.strip().upper() or "IN"
        return read_suppressions(sources, default_region=region, what="suppression")

    def insert_placeholder(self, column: str) -> None:
        """Append ``{column}`` to the message (browsers do not tell the kernel the caret)."""
        text = self.content.value
        sep = "" if not text or text.endswith((" ", "\n")) else " "
        self.content.value = f"{text}{sep}{{{column}}}"

    def _check_sender(self) -> None:
        try:  # the one sender-id check (models.check_sender_id), as typed
            check_sender_id(self.sender_id.value.strip() or None, what="Sender id")
        except UsageError as exc:
            self.sender_note.value = _note(f"{exc}.", "error")
        else:
            self.sender_note.value = ""

    def _check_region(self) -> None:
        from .numbers import check_region

        try:
            check_region(self.region.value)
        except UsageError as exc:
            self.sender_note.value = _note(str(exc), "error")
        else:
            self._check_sender()

    def _on_content(self) -> None:
        text = self.content.value
        stats = content_stats(text, self.df)
        kind = "error" if stats.error else "info"
        self.counter.value = (
            _note(stats.describe(), kind) + offenders_html(stats) + histogram_html(stats.histogram)
        )
        replaceable = any(replacement_for(c) is not None for c in ucs2_chars(text))
        self.smart_button.layout.display = "" if replaceable else "none"
        if stats.unknown:
            names = ", ".join("{" + f + "}" for f in stats.unknown)
            self.placeholder_note.value = _note(
                f"Unknown placeholder {names}: the frame has no such column.", "error"
            )
        else:
            self.placeholder_note.value = ""
        self.preview.value = self._preview_html(text, stats)

    def use_smart_encoding(self) -> None:
        """Replace the template's characters that have a GSM-7 look-alike (one click)."""
        self.content.value = smart_encode(self.content.value)

    def _preview_html(self, text: str, stats: ContentStats) -> str:
        if not text or stats.error or stats.unknown:
            return ""
        head = self.df.head(PREVIEW_ROWS)
        rendered = render_frame(text, head)
        number_col = self.number_col.value
        items = []
        for i, (msg, missing) in enumerate(zip(rendered.content, rendered.missing, strict=True)):
            who = html.escape(str(head[number_col].iloc[i])) if number_col in head else f"row {i}"
            what = (
                f"<i>skipped: {html.escape(missing)} is empty</i>"
                if missing
                else mark_ucs2(str(msg), stats.ucs2_chars)
            )
            items.append(f"<li><code>{who}</code>: {what}</li>")
        return "<div>Preview:</div><ul>" + "".join(items) + "</ul>"

    def _on_upload(self) -> None:
        files = self.upload.value
        if not files:
            return
        item = files[0]
        name = item.get("name", "upload")
        try:
            self._suppress_upload = read_suppression(
                bytes(item["content"]), name=name, what=f"the uploaded {name}"
            )
        except (ItnioError, ValueError, KeyError) as exc:
            self._suppress_upload = None
            self._error(f"Could not read {name}: {exc}")
        else:
            self._clear_error()
        self._show_suppression()
        self._invalidate()

    def _show_suppression(self) -> None:
        parts = []
        if self._suppress_upload:
            parts.append(f"the uploaded list ({self._suppress_upload.describe()})")
        if self._suppress_optouts:
            parts.append(f"{len(self._suppress_optouts):,} opt-outs from replies")
        self.suppress_note.value = _note(
            "Suppressing " + " and ".join(parts) + "." if parts else "No suppression list."
        )

    # -- dry run ---------------------------------------------------------------------------
    def dry_run(self) -> None:
        """Plan with the current settings and show the summary; enables the confirmation."""
        from .plan import plan_campaign

        self._clear_error()
        if self.gate.busy:
            self._error("A campaign is being sent; stop it or wait before planning another.")
            return
        key = self.settings_key()
        try:
            self._plan_kwargs = dict(
                number_col=self.number_col.value,
                content="" if self.variant_boxes else self.content.value,  # variants: A is in them
                sender_id=self.sender_id.value.strip() or None,
                order_id_col=None
                if self.order_id_col.value == _NO_COLUMN
                else self.order_id_col.value,
                default_region=self.region.value.strip().upper(),
                suppress=self._suppression(),
                prices=self.prices,
                smart_encoding=bool(self.smart_encoding.value),
                **self.when.plan_options(),
                **self.experiment_options(),
                **self._workspace_keywords(),
            )
            plan = plan_campaign(self.df, **self._plan_kwargs)
        except (ItnioError, ValueError, KeyError, TypeError) as exc:
            self.when.show(None)
            self.plan = None
            self.gate.clear()
            self.summary.value = ""
            self.skipped.value = ""
            self.experiment_summary.value = ""
            self.workspace_note.value = ""
            self._error(f"Dry run failed: {exc}")
            self._update_send_state()
            return
        earlier = find_earlier_campaign(self.ledger_dir, plan.fingerprint)
        if earlier is None:  # issue 13: the repeat guard must not hide the campaign it continues
            plan, earlier = self._continued(plan)
        summary = plan.summary()
        if earlier is None and self.ledger_dir is None and plan.fingerprint in self.gate.sent:
            earlier = EarlierCampaign(None)  # sent without a ledger: nothing to continue
        self.plan = plan
        self.gate.planned(key, int(summary.ready), earlier=earlier)
        self.plan_number_col = self.number_col.value
        self.summary.value = self._plan_summary_html(summary)
        self.skipped.value = skipped_html(plan, self.df, self.plan_number_col)
        self.when.show(plan, has_ledger=self.ledger_dir is not None)
        self.experiment_summary.value = experiment_plan_html(plan, summary=summary)
        self.workspace_note.value = self._workspace_html(plan)
        self.confirm.value = False
        self._show_campaign()
        if self.credentials is not None and self._ready_count():
            self._start("balance_task", self._check_balance(plan, key))

    def _plan_summary_html(self, summary: Any) -> str:
        table = summary.to_frame().to_html(escape=True, border=0, header=False, index=False)
        if summary.balance is None:
            return table + _note("Balance: checking…" if self.credentials else "Balance: unknown.")
        if summary.enough_balance is False:
            return table + _note("The balance does not cover the estimated cost.", "error")
        return table

    def trial_settings(self) -> tuple[float, Gate] | None:
        """The trial share and gate typed in the form (None: no trial); UsageError if bad."""
        if not self.trial.value.strip():
            return None
        share = parse_share(self.trial.value.strip())
        return share, parse_gate(self.gate_rule.value.strip(), wait=self.gate_wait.value.strip())

    def test_send(self) -> None:
        """Send the dry-run plan's representative messages to the seed numbers."""
        self._clear_error()
        if self.plan is None or not self.dry_run_current():
            self._error("Run the dry run with the current settings first.")
            return
        if self.credentials is None:
            self._error("A test send needs credentials.")
            return
        seeds = [s for s in re.split(r"[,;\n]+", self.seeds.value) if s.strip()]
        self._start("test_task", self._test_send(self.plan, seeds))

    async def _test_send(self, plan: Any, seeds: list[str]) -> None:
        from .client import AsyncClient
        from .testsend import send_test

        assert self.credentials is not None
        self.test_result.value = _note(f"Sending a test to {len(seeds):,} seed numbers…")
        async with AsyncClient(self.credentials, self.client_settings) as client:
            frame = await send_test(plan, client, seeds, default_region=self.region.value or "IN")
        verdict = (
            _note("Test passed: every test message was delivered.", "ok")
            if frame.attrs.get("passed")
            else _note("Test not passed: see the states and errors below.", "warn")
        )
        cols = ["seed", "represents", "content", "segments", "state", "delivery", "error"]
        self.test_result.value = verdict + _table_html(frame[cols])

    def _ready_count(self) -> int:
        """How many SMS Send would send now (see :meth:`SendGate.to_send`)."""
        return self.gate.to_send(bool(self.send_again.value)) if self.plan is not None else 0

    def _show_campaign(self) -> None:
        """The Send section's words: a new campaign, a continuation, or a send to everyone."""
        n = self._ready_count()
        self.campaign_note.value, self.confirm.description = campaign_words(
            self.gate.earlier if self.plan is not None else None, n, bool(self.send_again.value)
        )
        try:
            trial = self.trial_settings()
        except UsageError as exc:
            trial = None
            self.campaign_note.value += _note(f"Trial: {exc}", "error")
        if trial is not None and self.gate.earlier is None:
            self.confirm.description = describe_trial(*trial)
        self._update_send_state()

    def _on_send_again(self) -> None:
        self.confirm.value = False
        self._show_campaign()

    async def _check_balance(self, plan: Any, key: tuple[Any, ...]) -> None:
        from .client import AsyncClient

        assert self.credentials is not None
        async with AsyncClient(self.credentials, self.client_settings) as client:
            checked = await plan.check_balance(client)
        if self.plan is plan and self.gate.current(key):
            summary = checked if hasattr(checked, "to_frame") else plan.summary()
            self.summary.value = self._plan_summary_html(summary)

    def _invalidate(self) -> None:
        """A setting changed: the dry run no longer matches, untick and disable Send."""
        if self.gate.planned_key is not None and not self.gate.current(self.settings_key()):
            self.gate.clear()
            self.summary.value += _note("Settings changed: run the dry run again.", "warn")
        self.confirm.value = False
        self._update_send_state()

    def dry_run_current(self) -> bool:
        """True when the last dry run was of exactly the current settings."""
        return self.plan is not None and self.gate.current(self.settings_key())

    def _update_send_state(self) -> None:
        again = bool(self.send_again.value)
        can_send = self.plan is not None and self.gate.can_confirm(self.settings_key(), again)
        self.confirm.disabled = not can_send
        if not can_send and self.confirm.value:
            self.confirm.value = False
        self.send_button.disabled = not (can_send and self.confirm.value)
        self.stop_button.disabled = not self.gate.busy
        self.dry_run_button.disabled = self.gate.busy
        has_result = self.result is not None and not self.gate.busy
        self.refresh_button.disabled = not (has_result and self.credentials is not None)
        self.export_button.disabled = not has_result

    # -- send ------------------------------------------------------------------------------
    def send(self) -> None:
        """Start sending the dry-run plan (needs the matching dry run and the confirmation)."""
        self._clear_error()
        send_again = bool(self.send_again.value)
        refusal = self.gate.refusal(self.settings_key(), bool(self.confirm.value), send_again)
        if refusal is not None or self.plan is None:
            self._error(refusal or "Run the dry run first.")
            return
        self.result = None
        self._stopper = Stopper()
        total = self._ready_count()
        self.progress.max, self.progress.value = max(total, 1), 0
        self.progress.bar_style = "info"
        self.progress_label.value = _note(f"Sending {total:,} SMS…")
        self.result_html.value = self.failures.value = self.download.value = ""
        self.gate.start(self.plan.fingerprint)
        self.send_again.value = False
        self._update_send_state()
        self._start("sending_task", self._send(self.plan, send_again))

    def _ledger_for(self, plan: Any, send_again: bool) -> Path | None:
        """The ledger Send uses: the earlier campaign's (continue it), or a new one."""
        if self.ledger_dir is None:
            return None
        earlier = self.gate.earlier
        if earlier is not None and earlier.ledger is not None and not send_again:
            return earlier.ledger
        self.ledger_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.ledger_dir / f"campaign-{stamp}-{plan.fingerprint[:8]}.sqlite"
        n = 1
        while path.exists():
            n += 1
            path = path.with_name(f"campaign-{stamp}-{plan.fingerprint[:8]}-{n}.sqlite")
        return path

    async def _send(self, plan: Any, send_again: bool = False) -> None:
        from .client import AsyncClient
        from .runner import send_campaign

        assert self.credentials is not None
        ledger = self._ledger_for(plan, send_again)
        self.ledger_path = ledger
        try:
            trial = self.trial_settings() if self.gate.earlier is None else None
            share, gate = trial if trial is not None else (None, None)
            async with AsyncClient(self.credentials, self.client_settings) as client:
                result = await send_campaign(
                    plan, client, options=self.send_options, ledger=ledger,
                    on_progress=self._on_progress, stopper=self._stopper, send_again=send_again,
                    trial=share, gate=gate, clock=self.clock, sleep=self.sleep,
                )  # fmt: skip
            self.result = result
            self._show_result()
            if result.notice:
                self.campaign_note.value = _note(result.notice, "info")
            if result.status == "halted":
                self._error(f"Sending halted: {result.halt_reason}")
        finally:
            self.gate.finish()
            self._close_workspace()
            self._update_send_state()

    def _on_progress(self, event: Any) -> None:
        waiting = getattr(event, "waiting", None)  # send windows: which zone opens when
        if waiting:  # the bar keeps what was sent so far
            self.progress_label.value = _note(f"{waiting}. Stop works while waiting.")
            return
        self.progress.max = max(event.total, 1)
        self.progress.value = event.done
        counts = ", ".join(f"{k} {v:,}" for k, v in event.counts.items())
        self.progress_label.value = _note(
            f"{event.done:,} of {event.total:,} · {counts} · {event.requests:,} requests"
            + (f", {event.retries:,} retries" if event.retries else "")
        )

    def stop(self) -> None:
        """Stop sending: no new requests; the ones in flight finish and are recorded."""
        if self._stopper is not None and self.gate.busy:
            self._stopper.stop()
            self.progress_label.value = _note("Stopping: waiting for requests in flight…", "warn")

    def _show_result(self) -> None:
        result = self.result
        if result is None:
            return
        summary = result.summary()
        kind = "ok" if result.status == "completed" else "warn"
        head = _note(f"Campaign {result.status}" + (
            f": {result.halt_reason}" if result.halt_reason else "."), kind)  # fmt: skip
        self.result_html.value = head + summary._repr_html_()
        self.progress.bar_style = "success" if result.status == "completed" else "warning"
        frame = result.frame
        names = result.columns
        bad = frame[frame[names.state].isin(FAILURE_STATES)]
        if bad.empty:
            self.failures.value = _note("No failures.", "ok")
        else:
            cols = [names.number, names.state, names.reason]
            self.failures.value = f"<div>Failures ({len(bad):,}):</div>" + _table_html(bad[cols])
        self._show_experiment_result(result)

    async def _refresh(self) -> None:
        from .client import AsyncClient
        from .delivery import refresh_delivery

        if self.result is None or self.credentials is None:
            return
        async with AsyncClient(self.credentials, self.client_settings) as client:
            await refresh_delivery(self.result, client)
        self._show_result()

    async def _fetch_optouts(self) -> None:
        from .client import AsyncClient
        from .delivery import fetch_replies, opt_outs

        if self.credentials is None:
            self._error("Opt-outs need credentials.")
            return
        since = datetime.now(UTC) - timedelta(days=self.optout_days)
        async with AsyncClient(self.credentials, self.client_settings) as client:
            replies = await fetch_replies(client, since)
        self._suppress_optouts = sorted({str(n) for n in opt_outs(replies)})
        self._show_suppression()
        self._invalidate()

    def export(self) -> Path | None:
        """Write the Excel report and show a download link; returns its path."""
        from .excel import write_report

        self._clear_error()
        if self.result is None:
            self._error("Nothing to export yet: send first.")
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.report_dir / f"campaign-report-{stamp}.xlsx"
        try:
            self.report_dir.mkdir(parents=True, exist_ok=True)
            path = write_report(self.result, path)
        except (OSError, ValueError, ItnioError) as exc:
            self._error(f"Export failed: {exc}")
            return None
        self.report_path = path
        self.download.value = download_link(path)
        return path

    # -- workspace: opt-outs, frequency cap, repeat guard (issue 13) -------------------------
    def _build_workspace(self) -> None:
        """The Workspace section (before the dry run) and the dry run's workspace line."""
        init = self._workspace_init
        location = "" if init is None or init == "default" else init
        if location and not isinstance(location, str | Path):  # a Workspace object
            self.workspace, location = location, location.location
        self.workspace_location = w.Text(
            value=str(location or default_workspace_location()),
            description="Workspace",
            placeholder="a .sqlite file or a postgresql:// URL",
            layout=w.Layout(width="60%"),
        )
        self.no_workspace = w.Checkbox(
            value=init is None,
            description="No workspace (opt-outs, caps and history not checked)",
            indent=False,
            layout=w.Layout(width="auto"),
        )
        self.frequency_cap = w.Text(
            value=self._frequency_cap_init, description="Frequency cap",
            placeholder="e.g. 1/24h,4/30d (empty: none)",
        )  # fmt: skip
        self.repeat_guard = w.Text(
            value="", description="Repeat guard", placeholder="default 7d; off: none"
        )
        self.workspace_note = w.HTML()
        for widget, css in (
            (self.workspace_location, "itnio-workspace"), (self.no_workspace, "itnio-no-workspace"),
            (self.frequency_cap, "itnio-frequency-cap"), (self.repeat_guard, "itnio-repeat-guard"),
            (self.workspace_note, "itnio-workspace-note"),
        ):  # fmt: skip
            widget.add_class(css)
        section = w.VBox([
            w.HTML("<b>Workspace</b>"), w.HBox([self.workspace_location, self.no_workspace]),
            w.HBox([self.frequency_cap, self.repeat_guard]),
        ])  # fmt: skip
        sections = list(self.view.children)
        at = next(
            i for i, s in enumerate(sections) if self.dry_run_button in getattr(s, "children", ())
        )
        dry = sections[at]
        kids = list(dry.children)
        kids.insert(kids.index(self.summary) + 1, self.workspace_note)
        dry.children = tuple(kids)
        self.view.children = tuple([*sections[:at], section, *sections[at:]])
        for widget in (self.workspace_location, self.no_workspace, self.frequency_cap,
                       self.repeat_guard):  # fmt: skip
            widget.observe(lambda _: self._invalidate(), names="value")
        self.no_workspace.observe(lambda _: self._on_no_workspace(), names="value")
        self._on_no_workspace()

    def _on_no_workspace(self) -> None:
        off = bool(self.no_workspace.value)
        for widget in (self.workspace_location, self.frequency_cap, self.repeat_guard):
            widget.disabled = off

    def _workspace_key(self) -> tuple[Any, ...]:
        if self.no_workspace.value:
            return (None,)
        return (
            self.workspace_location.value.strip(),
            self.frequency_cap.value.strip(),
            self.repeat_guard.value.strip(),
        )

    def _workspace_keywords(self) -> dict[str, Any]:
        """plan_campaign's workspace keywords from the form (opens the workspace: a bad one is
        an error in the form, never a dry run without it)."""
        if self.no_workspace.value:
            self.workspace = None
            return {}
        location = self.workspace_location.value.strip()
        if not location:
            raise UsageError('no workspace location: type one, or tick "No workspace"')
        if self.workspace is None or str(self.workspace.location) != location:
            from .workspace import Workspace

            self.workspace = Workspace(location)
        out: dict[str, Any] = {"workspace": self.workspace}
        cap = self.frequency_cap.value.strip()
        if cap:
            out["frequency_cap"] = None if cap.lower() in ("off", "none") else cap
        guard = self.repeat_guard.value.strip()
        if guard:
            out["repeat_guard"] = None if guard.lower() in ("off", "none", "0") else guard
        return out

    def _continued(self, plan: Any) -> tuple[Any, EarlierCampaign | None]:
        """``plan``, or, when its repeat guard skipped rows because this very campaign was
        sent from the ledger folder, the plan without the guard and that campaign (Send then
        continues it, or sends again to everyone only when ticked). A guard typed in the form
        is kept as typed."""
        states = plan.recipients["state"]
        if self.repeat_guard.value.strip() or not (states == "skipped_already_sent").any():
            return plan, None
        from .plan import plan_campaign

        base = plan_campaign(self.df, **{**self._plan_kwargs, "repeat_guard": None})
        earlier = find_earlier_campaign(self.ledger_dir, base.fingerprint)
        if earlier is not None or (self.ledger_dir is None and base.fingerprint in self.gate.sent):
            return base, earlier
        return plan, None

    def _close_workspace(self) -> None:
        """Close the workspace after a send (it recorded the campaign): the next dry run
        opens it again, and a closed SQLite workspace leaves no -wal/-shm files behind."""
        if self.workspace is not None and self._workspace_init is not self.workspace:
            self.workspace.close()
            self.workspace = None

    def _workspace_html(self, plan: Any) -> str:
        """Under the dry run (whose summary counts the exclusions): which workspace was
        checked, and the replies awaiting a decision."""
        if self.workspace is None:
            return _note("No workspace: opt-outs, frequency caps and history are not checked.",
                         "warn")  # fmt: skip
        review = int(plan.summary().review_pending)
        text = f"Checked against the workspace {self.workspace.location}."
        if review:
            verb = "reply awaits" if review == 1 else "replies await"
            text += (
                f" {review:,} {verb} review (a STOP inside a sentence): decide with "
                "form.workspace.optout_review() and resolve_review(id, action=...)."
            )
        return _note(text, "warn" if review else "info")

    # -- tasks and errors --------------------------------------------------------------------
    def _start(self, attr: str, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the kernel's loop; its failure is shown in the form."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        task = loop.create_task(self._guarded(coro))
        setattr(self, attr, task)

    async def _guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            self._error("Cancelled.")
            raise
        except ItnioError as exc:
            self._error(str(exc))
        except Exception as exc:  # shown in plain words; never a traceback in the form
            self._error(f"Unexpected error ({type(exc).__name__}): {exc}")

    def _error(self, message: str) -> None:
        self.errors.value = _note(self._scrub(message), "error")

    def _clear_error(self) -> None:
        if not self._credentials_error:
            self.errors.value = ""

    def _scrub(self, text: str) -> str:
        creds = self.credentials
        if creds is not None:
            for secret in (creds.api_key, creds.api_secret):
                if secret:
                    text = text.replace(secret, "***")
        return text

    # -- experiment: variants, holdout, split seed (issue 17) ------------------------------
    def _build_experiment(self) -> None:
        """The Experiment section (after Message) and the charts under the result."""
        #: Extra variants' message boxes, in order: ("B", box, counter), ("C", ...).
        self.variant_boxes: list[tuple[str, w.Textarea, w.HTML]] = []
        self.variant_area = w.VBox()
        self.add_variant_button = w.Button(description="Add variant", icon="plus")
        self.remove_variant_button = w.Button(
            description="Remove variant", icon="minus", disabled=True
        )
        self.holdout = w.BoundedFloatText(
            value=0.0, min=0.0, max=90.0, step=1.0, description="Holdout %",
            tooltip="share of recipients sent nothing, to measure what the SMS changed",
        )  # fmt: skip
        self.split_seed = w.IntText(value=7, description="Split seed")
        self.test_share = w.BoundedFloatText(
            value=0.0, min=0.0, max=90.0, step=5.0, description="Test share %",
            tooltip="send the variants to this share first; the winner goes to the rest",
        )  # fmt: skip
        self.experiment_summary = w.HTML()
        self.charts = w.HTML()
        #: Winner rollout (a plan with a test share): metric, minimum per variant, button.
        self.rollout_metric = w.Dropdown(
            options=[("delivered rate", "delivered"), ("replied rate", "replied")],
            value="delivered", description="Winner by",
        )  # fmt: skip
        self.rollout_min_n = w.BoundedIntText(value=100, min=1, max=10**9, description="Min n")
        self.rollout_button = w.Button(
            description="Roll out the winner", icon="trophy", disabled=True,
            layout=w.Layout(width="auto"),
        )  # fmt: skip
        self.rollout_result = w.HTML()
        self.rollout_task: asyncio.Task[None] | None = None
        for widget, css in (
            (self.add_variant_button, "itnio-add-variant"),
            (self.remove_variant_button, "itnio-remove-variant"),
            (self.holdout, "itnio-holdout"), (self.split_seed, "itnio-split-seed"),
            (self.experiment_summary, "itnio-experiment"), (self.charts, "itnio-charts"),
            (self.test_share, "itnio-test-share"), (self.rollout_button, "itnio-rollout"),
            (self.rollout_result, "itnio-rollout-result"),
        ):  # fmt: skip
            widget.add_class(css)
        section = w.VBox([
            w.HTML("<b>Experiment</b> <i>(optional: A is the message above)</i>"),
            self.variant_area,
            w.HBox([self.add_variant_button, self.remove_variant_button]),
            w.HBox([self.holdout, self.split_seed, self.test_share]),
            self.experiment_summary,
        ])  # fmt: skip
        rollout = w.VBox([
            w.HBox([self.rollout_metric, self.rollout_min_n, self.rollout_button]),
            self.rollout_result,
        ])  # fmt: skip
        children = list(self.view.children)
        children.insert(3, section)  # errors, Recipients, Message, *Experiment*, ...
        children += [self.charts, rollout]
        self.view.children = children
        self.add_variant_button.on_click(lambda _: self.add_variant())
        self.remove_variant_button.on_click(lambda _: self.remove_variant())
        for widget in (self.holdout, self.split_seed, self.test_share):
            widget.observe(lambda _: self._invalidate(), names="value")
        self.rollout_button.on_click(lambda _: self.rollout())

    def add_variant(self, text: str = "") -> str:
        """Add a message box for the next variant (B, C, ...); returns its name."""
        taken = {"A", *(name for name, _, _ in self.variant_boxes)}
        name = next(c for c in "BCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in taken)
        box = w.Textarea(
            value=text, description=f"Variant {name}", placeholder=f"Message of variant {name}",
            layout=w.Layout(width="95%", height="4em"),
        )  # fmt: skip
        box.add_class("itnio-variant")
        counter = w.HTML()
        self.variant_boxes.append((name, box, counter))

        def changed(_: Any = None) -> None:
            counter.value = _note(content_stats(box.value, self.df).describe()) if box.value else ""
            self._invalidate()

        box.observe(changed, names="value")
        changed()
        self._show_variants()
        return name

    def remove_variant(self) -> None:
        """Remove the last variant's box."""
        if self.variant_boxes:
            self.variant_boxes.pop()
            self._show_variants()
            self._invalidate()

    def _show_variants(self) -> None:
        self.variant_area.children = [
            w.VBox([box, counter]) for _, box, counter in self.variant_boxes
        ]
        self.remove_variant_button.disabled = not self.variant_boxes

    def variants(self) -> dict[str, str]:
        """``{"A": message, "B": ...}`` when variants were added, else ``{}``."""
        if not self.variant_boxes:
            return {}
        return {"A": self.content.value, **{n: b.value for n, b, _ in self.variant_boxes}}

    def experiment_key(self) -> tuple[Any, ...]:
        """The experiment settings a dry run depends on."""
        return (tuple(self.variants().items()), float(self.holdout.value or 0),
                int(self.split_seed.value), float(self.test_share.value or 0))  # fmt: skip

    def experiment_options(self) -> dict[str, Any]:
        """The plan's experiment options (none without variants and holdout).

        >>> form = CampaignForm(pd.DataFrame({"phone": ["+91 98765 43210"]}), None)
        >>> form.experiment_options()
        {}
        >>> form.content.value = "Hi"; _ = form.add_variant("Hello"); form.holdout.value = 10
        >>> form.experiment_options()
        {'variants': {'A': 'Hi', 'B': 'Hello'}, 'holdout': 0.1, 'split_seed': 7}
        """
        variants, share = self.variants(), float(self.holdout.value or 0) / 100
        test_share = float(self.test_share.value or 0) / 100
        if not variants and not share and not test_share:
            return {}
        empty = [name for name, text in variants.items() if not text.strip()]
        if empty:
            raise UsageError(f"variant {', '.join(empty)} has no message")
        options: dict[str, Any] = {"variants": variants} if variants else {}
        if share:
            options["holdout"] = round(share, 6)
        if test_share:
            options["test_share"] = round(test_share, 6)
        options["split_seed"] = int(self.split_seed.value)
        return options

    def _show_experiment_result(self, result: Any) -> None:
        """The result's charts; the rollout button when rows wait for the winner."""
        self.charts.value = result_charts_html(result)
        held = result.counts().get("held_for_rollout", 0)
        self.rollout_button.disabled = not (
            held and self.ledger_path is not None and self.credentials is not None
        )
        if held:
            self.rollout_result.value = _note(
                f"{held:,} recipients wait for the winner: when the test's results are in, "
                "roll out the winner."
            )

    def rollout(self) -> None:
        """Pick the test's winner and send it to the held rows (``rollout_winner``)."""
        self._clear_error()
        if self.ledger_path is None or self.result is None:
            self._error("Nothing to roll out: send a plan with a test share (and a ledger) first.")
            return
        if self.gate.busy or (self.rollout_task is not None and not self.rollout_task.done()):
            self._error("A campaign is being sent; wait for it before rolling out.")
            return
        self.rollout_button.disabled = True
        self._start("rollout_task", self._rollout(self.ledger_path))

    async def _rollout(self, ledger: Path) -> None:
        from .client import AsyncClient
        from .rollout import rollout_winner

        assert self.credentials is not None
        self.rollout_result.value = _note("Choosing the winner and sending it…")
        try:
            async with AsyncClient(self.credentials, self.client_settings) as client:
                done = await rollout_winner(
                    ledger, client, metric=self.rollout_metric.value,
                    min_n=int(self.rollout_min_n.value), options=self.send_options,
                )  # fmt: skip
        except BaseException:
            self.rollout_result.value = ""
            self.rollout_button.disabled = False
            raise
        self.result = done.result
        self._show_result()
        self.rollout_result.value = done._repr_html_()


def experiment_plan_html(plan: Any, baseline: float = 0.05, *, summary: Any = None) -> str:
    """The dry run's experiment: recipients, segments and cost per variant, and the smallest
    lift the holdout can detect from a ``baseline`` conversion rate; "" without variants.
    ``summary``: ``plan.summary()`` when already at hand (it is not computed twice)."""
    table = variant_plan_frame(plan, summary)
    if table is None:
        return ""
    parts = ["<div><b>Experiment</b>: recipients per variant</div>", _table_html(table)]
    mdl = getattr(plan, "min_detectable_lift", None)
    if callable(mdl) and "holdout" in set(table.index.astype(str)):
        try:
            parts.append(_note(describe_min_lift(mdl(baseline=baseline), baseline)))
        except (ItnioError, ValueError) as exc:
            parts.append(_note(f"Smallest detectable lift: {exc}", "warn"))
    return "".join(parts)


def variant_plan_frame(plan: Any, summary: Any = None) -> pd.DataFrame | None:
    """Per group (variants, holdout, rollout): rows drawn, rows to send, segments and the
    estimated cost, from the dry run (``plan.summary().experiment``); None without variants.
    """
    experiment = getattr(summary if summary is not None else plan.summary(), "experiment", None)
    if experiment is None:
        return None
    rows = [
        {"variant": v.name, "rows": v.rows, "to send": v.to_send, "segments": v.segments,
         "estimated cost": "" if v.cost is None else f"{v.cost:,}"}
        for v in experiment.variants
    ]  # fmt: skip
    if experiment.holdout:
        rows.append({"variant": "holdout", "rows": experiment.holdout, "to send": 0,
                     "segments": 0, "estimated cost": ""})  # fmt: skip
    if experiment.held_for_rollout:
        rows.append({"variant": "held for rollout", "rows": experiment.held_for_rollout,
                     "to send": 0, "segments": 0, "estimated cost": ""})  # fmt: skip
    return pd.DataFrame(rows).set_index("variant")


def describe_min_lift(value: Any, baseline: float) -> str:
    """The power calculation in words.

    >>> describe_min_lift(0.0222, 0.05).split(": ")[1]
    '+2.2 percentage points.'
    """
    head = (
        "Smallest lift the holdout can detect (80% power, 5% significance) from a "
        f"{baseline:.1%} conversion rate: "
    )
    if isinstance(value, pd.DataFrame):  # plan.min_detectable_lift(): one row per variant
        value = value["min_abs_lift"] if "min_abs_lift" in value else value.iloc[:, 0]
    if isinstance(value, pd.Series):
        value = value.to_dict()
    if isinstance(value, dict):
        return head + "; ".join(f"{k} {_pp(v)}" for k, v in value.items()) + "."
    return head + _pp(value) + "."


def _pp(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "not detectable" if number != number else f"+{number * 100:.1f} percentage points"


def result_charts_html(result: Any) -> str:
    """Outcomes by state, delivery over time and, for an experiment, the delivered rate per
    variant with its interval (inline SVG: no plotting package needed)."""
    from .charts import delivery_chart, outcome_chart, variant_chart

    parts = [outcome_chart(result)._repr_html_(), delivery_chart(result)._repr_html_()]
    if "variant" in result.plan.recipients.columns and hasattr(result, "by_variant"):
        try:
            parts.append(variant_chart(result)._repr_html_())
        except (ValueError, ItnioError) as exc:
            parts.append(_note(f"No variant chart: {exc}", "warn"))
    return "".join(parts)


# --- send windows (issue 14): the form's "When to send" fields and the schedule chart --------
class ScheduleFields:
    """The form's send-window fields and the dry run's schedule (chart and table).

    Plain widgets with two translations: :meth:`plan_options` (plan_campaign's keywords)
    and :meth:`show` (the schedule of a plan). Empty fields mean "any time, now, never".

    Example::

        fields = ScheduleFields(); fields.window.value = "09:00-20:00"
        fields.plan_options()   ->  {"window": "09:00-20:00"}
    """

    def __init__(self) -> None:
        self.window = w.Text(
            value="", description="Window", placeholder="09:00-20:00 or promotional; empty: any"
        )
        self.days = w.Text(value="", description="Days", placeholder="e.g. mon-sat; empty: all")
        self.not_before = w.Text(
            value="", description="Not before", placeholder="e.g. 2026-12-01T09:00; empty: now"
        )
        self.expire_at = w.Text(
            value="", description="Expire at", placeholder="e.g. 2026-12-02T20:00; empty: never"
        )
        self.note = w.HTML(
            _note(
                "Windows are in each recipient's local time (zone from the number). "
                "'promotional' uses each country's quiet-hours preset — not legal advice."
            )
        )
        #: The dry run's schedule: a timeline per time zone, then the table.
        self.schedule = w.HTML()
        for widget, css in (
            (self.window, "itnio-window"), (self.days, "itnio-days"),
            (self.not_before, "itnio-not-before"), (self.expire_at, "itnio-expire-at"),
            (self.schedule, "itnio-schedule"),
        ):  # fmt: skip
            widget.add_class(css)

    def fields(self) -> tuple[w.Text, ...]:
        return (self.window, self.days, self.not_before, self.expire_at)

    def rows(self) -> list[w.Widget]:
        return [
            w.HBox([self.window, self.days]),
            w.HBox([self.not_before, self.expire_at]),
            self.note,
        ]

    def observe(self, callback: Any) -> None:
        for widget in self.fields():
            widget.observe(lambda _: callback(), names="value")

    def key(self) -> tuple[str, ...]:
        return tuple(f.value.strip() for f in self.fields())

    def plan_options(self) -> dict[str, Any]:
        """plan_campaign's schedule keywords of the fields filled in; UsageError if a time is
        not ISO 8601 (times without an offset are this computer's local time)."""
        from .client import aware_time

        out: dict[str, Any] = {}
        if self.window.value.strip():
            out["window"] = self.window.value.strip()
        if self.days.value.strip():
            out["days"] = self.days.value.strip()
        if self.not_before.value.strip():
            out["not_before"] = aware_time(self.not_before.value.strip(), "Not before")
        if self.expire_at.value.strip():
            out["expire_at"] = aware_time(self.expire_at.value.strip(), "Expire at")
        return out

    def show(self, plan: Any, *, has_ledger: bool = True) -> None:
        """Show ``plan``'s schedule (nothing for an unscheduled plan or None)."""
        if plan is None or getattr(plan, "schedule_settings", None) is None:
            self.schedule.value = ""
            return
        self.schedule.value = schedule_html(plan.schedule())
        if not has_ledger:  # the waits live in the ledger: send_campaign refuses without one
            self.schedule.value += _note(
                "Send windows need a ledger: create the form with ledger_dir=… to send.", "warn"
            )


def schedule_html(frame: pd.DataFrame) -> str:
    """The schedule as the form shows it: a warning if some will be left, the timeline
    (one lane per time zone), then the table.

    >>> schedule_html(pd.DataFrame(columns=["tz"]))
    '<div style="color:#333">Nobody to schedule.</div>'
    """
    from .charts.timeline import timeline_svg

    if frame.empty:
        return _note("Nobody to schedule.")
    parts = ["<div><b>Schedule</b> (each zone's window in UTC; estimated at the send rate)</div>"]
    late = frame[~frame["fits"].astype(bool)]
    if len(late):
        left = int(late["left_over"].sum())
        parts.append(
            _note(
                f"{left:,} recipients would be left when their window closes or the campaign "
                f"expires ({', '.join(late['tz'].astype(str).unique())}).",
                "warn",
            )
        )
    svg = timeline_svg(frame, now=datetime.now(UTC))
    parts.append(f"<div class='itnio-timeline-box'>{svg}</div>")
    parts.append(_table_html(frame))
    return "".join(parts)


__all__ = [
    "CampaignForm",
    "ContentStats",
    "ScheduleFields",
    "content_stats",
    "download_link",
    "guess_number_column",
    "read_suppression_file",
    "schedule_html",
]
