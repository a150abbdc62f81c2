"""Message templates and SMS encoding: ``{column}`` placeholders, GSM-7/UCS-2 and segments.

Encoding rules (GSM 03.38, as the provider bills them):

* A text made only of the GSM-7 basic alphabet and its extension table is sent as **GSM-7**:
  160 positions in one SMS, 153 per part when split. Extension characters
  (``^ { } \\ [ ~ ] | €`` and form feed) take two positions (escape + char).
* Any other character switches the **whole** text to **UCS-2**: 70 UTF-16 code units in one
  SMS, 67 per part. An emoji outside the BMP is a surrogate pair: 2 units.
* A part never splits an escape pair, a surrogate pair or a grapheme cluster (emoji with a
  skin tone, flags, ZWJ sequences, a letter with its combining marks): such a unit moves
  whole to the next part, which can cost an extra segment.

Example::

    >>> count_segments("Hello")
    ('GSM-7', 1)
    >>> count_segments("€" * 81)
    ('GSM-7', 2)
    >>> count_segments("😀" * 36)
    ('UCS-2', 2)
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import UsageError
from .models import MAX_CONTENT_CHARS as MAX_CONTENT_CHARS  # defined once, in models
from .models import has_surrogate

Encoding = Literal["GSM-7", "UCS-2"]


def _work_string() -> Any:
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:  # pragma: no cover - pyarrow is optional
        return pd.StringDtype("python")
    return pd.StringDtype("pyarrow")


#: String dtype for the columns this package builds: pyarrow-backed when pyarrow is installed
#: (vectorised RE2 regexes, ~3x less memory), whatever the user's pandas string options.
WORK_STRING = _work_string()

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

#: GSM 03.38 default alphabet (without ESC, which only introduces the extension table).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Extension table: each costs two positions (escape + character).
GSM7_EXTENSION = "^{}\\[~]|€\f"

_BASIC = frozenset(GSM7_BASIC)
_EXTENSION = frozenset(GSM7_EXTENSION)
#: Character class of the basic alphabet, usable by Python ``re`` and by pyarrow (RE2).
GSM7_BASIC_CLASS = (
    "["
    + "".join(c if c.isalnum() or ord(c) >= 0x100 else f"\\x{ord(c):02x}" for c in GSM7_BASIC)
    + "]"
)
_ONLY_BASIC = re.compile(GSM7_BASIC_CLASS + "*")


def count_segments(text: str) -> tuple[Encoding, int]:
    """Encoding and number of SMS parts the provider bills for ``text``.

    The empty text is ``("GSM-7", 0)``: there is nothing to send (the API refuses empty
    content anyway).

    >>> count_segments("a" * 160), count_segments("a" * 161)
    (('GSM-7', 1), ('GSM-7', 2))
    >>> count_segments("Zoë, 20% off")        # ë is not GSM-7
    ('UCS-2', 1)
    """
    if not text:
        return "GSM-7", 0
    if _ONLY_BASIC.fullmatch(text):  # fast path: one position per character, nothing to split
        n = len(text)
        return "GSM-7", 1 if n <= GSM7_SINGLE else math.ceil(n / GSM7_PART)
    if all(c in _BASIC or c in _EXTENSION for c in text):
        units = [2 if c in _EXTENSION else 1 for c in text]
        return "GSM-7", _pack(units, GSM7_SINGLE, GSM7_PART)
    return "UCS-2", _pack(_ucs2_clusters(text), UCS2_SINGLE, UCS2_PART)


def _pack(units: Sequence[int], single: int, part: int) -> int:
    """Parts needed for indivisible ``units`` (sizes); greedy is optimal for in-order packing."""
    total = sum(units)
    if total <= single:
        return 1
    parts, used = 1, 0
    for u in units:
        while u > part:  # a unit larger than a part (absurd cluster): it must be cut
            parts += 1 if used else 0
            u -= part
            used = part
        if used + u > part:
            parts += 1
            used = 0
        used += u
    return parts


def _utf16_len(cp: int) -> int:
    return 2 if cp > 0xFFFF else 1


def _is_regional_indicator(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _extends(cp: int, ch: str) -> bool:
    """True if code point ``cp`` never starts a grapheme cluster (UAX #29 Extend/SpacingMark)."""
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or cp in (0x200C, 0x200D)  # ZWNJ, ZWJ
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tags (subdivision flags)
        or 0x1160 <= cp <= 0x11FF  # Hangul V/T jamo
    )


def _ucs2_clusters(text: str) -> list[int]:
    """UTF-16 length of each grapheme cluster of ``text`` (a practical subset of UAX #29).

    Keeps together: CR LF, base + combining marks/variation selectors/skin tones, ZWJ
    sequences, regional-indicator pairs (flags), tag sequences, Indic virama conjuncts.
    """
    sizes: list[int] = []
    prev_cp = -1
    ri_run = 0  # regional indicators in the current run
    for ch in text:
        cp = ord(ch)
        joins = bool(sizes) and (
            _extends(cp, ch)
            or prev_cp == 0x200D  # ZWJ glues the next character
            or (prev_cp == 0x0D and cp == 0x0A)
            or (_is_regional_indicator(cp) and ri_run % 2 == 1)
            # Indic conjunct: virama (combining class 9) + consonant, in the Indic blocks
            or (
                0x0900 <= cp <= 0x0DFF
                and prev_cp >= 0
                and unicodedata.combining(chr(prev_cp)) == 9
                and unicodedata.category(ch) == "Lo"
            )
        )
        ri_run = ri_run + 1 if _is_regional_indicator(cp) else 0
        if joins:
            sizes[-1] += _utf16_len(cp)
        else:
            sizes.append(_utf16_len(cp))
        prev_cp = cp
    return sizes


@lru_cache(maxsize=65536)
def count_segments_cached(text: str) -> tuple[Encoding, int]:
    """:func:`count_segments` memoised (repeated contents in a campaign cost one call)."""
    return count_segments(text)


# --- templates ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal pieces interleaved with field names.

    ``pieces`` holds ``(literal, field)`` pairs; ``field`` is ``None`` for the trailing text.
    """

    text: str
    pieces: tuple[tuple[str, str | None], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for _, f in self.pieces if f is not None))


_IDENTIFIER_BAD = re.compile(r"[.\[\]]")


@lru_cache(maxsize=256)
def parse_template(template: str) -> Template:
    """Parse a ``{column}`` template; ``{{`` and ``}}`` are literal braces.

    Raises :class:`UsageError` for malformed templates, empty ``{}`` fields, attribute/index
    access, conversions (``!r``) and format specs (``:>5``). ``{1}`` names the column labelled
    ``"1"``, or else the column labelled with the integer ``1`` (see :func:`field_column`).

    >>> parse_template("Hi {first_name}, {{code}}").fields
    ('first_name',)
    """
    if not isinstance(template, str):
        raise UsageError(f"content must be a str template, got {type(template).__name__}")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(
            f"malformed content template {template!r}: {exc} "
            "(write {{ and }} for literal braces)"
        ) from None
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        if name == "":
            raise UsageError(
                f"content template {template!r}: placeholders must name a column, "
                "e.g. {first_name}"
            )
        if _IDENTIFIER_BAD.search(name) or spec or conversion:
            raise UsageError(
                f"content template {template!r}: placeholder {{{name}"
                f"{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is not "
                "supported; use plain {column} (format the column in pandas first)"
            )
        pieces.append((literal, name))
    return Template(template, tuple(pieces))


def template_fields(template: str) -> tuple[str, ...]:
    """The column names a template uses, in first-use order, without repeats.

    >>> template_fields("Hi {first_name}, see you at {store}, {first_name}!")
    ('first_name', 'store')
    """
    return parse_template(template).fields


def field_column(name: str, columns: Iterable[Hashable]) -> Hashable | None:
    """The column label a placeholder addresses, or ``None`` if there is none.

    ``{name}`` addresses the column labelled ``name``; a placeholder of digits such as ``{1}``
    addresses the column labelled with the integer ``1`` when no column is labelled ``"1"``
    (frames read without a header row have integer labels).

    >>> field_column("1", pd.Index(["phone", 1])), field_column("1", pd.Index(["1", 1]))
    (1, '1')
    >>> field_column("name", ["phone"]) is None
    True
    """
    labels = columns if isinstance(columns, pd.Index) else pd.Index(list(columns))
    if name in labels:
        return name
    if name.isascii() and name.isdigit() and int(name) in labels:
        return int(name)
    return None


def check_content(content: object) -> str:
    r"""``content`` if it can be a message template, else one :class:`UsageError` line:
    not text, empty, only spaces, or a broken character (a lone surrogate: half an emoji).

    >>> check_content("Hi {name}")
    'Hi {name}'
    >>> check_content("Hi \ud83d")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    itnio_campaign.errors.UsageError: content has a broken character at position 3 ...
    """
    if not isinstance(content, str) or not content:
        raise UsageError("content must be a non-empty template string, e.g. 'Hi {first_name}!'")
    if not content.strip():
        raise UsageError("content is only spaces: there is nothing to send")
    if has_surrogate(content):
        at = next(i for i, c in enumerate(content) if has_surrogate(c))
        snippet = content[max(0, at - 20) : at + 20]
        raise UsageError(
            f"content has a broken character at position {at} (an unpaired surrogate, e.g. "
            f"half an emoji): {snippet!a}; type the text again"
        )
    return content


def format_value(value: Any) -> str | None:
    """How one cell renders in a message; ``None`` when it is missing (NaN/None/blank).

    Integral floats lose their ``.0`` (``3.0`` → ``"3"``), other floats use the shortest repr.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return None
        if f.is_integer() and abs(f) < 1e16:
            return str(int(f))
        return repr(f)
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


def render_template(template: str, values: Mapping[Any, Any]) -> str:
    """Render one message from a mapping (e.g. a DataFrame row).

    Raises :class:`UsageError` if a field is absent from ``values`` or its value is missing.

    >>> render_template("Hi {name}, {pct}% off", {"name": "Zoë", "pct": 20.0})
    'Hi Zoë, 20% off'
    """
    out: list[str] = []
    for literal, name in parse_template(template).pieces:
        out.append(literal)
        if name is None:
            continue
        key = field_column(name, values.keys())
        if key is None:
            raise UsageError(f"content template uses {{{name}}} but there is no such field")
        text = format_value(values[key])
        if text is None:
            raise UsageError(f"field {name!r} is missing (empty); refusing to render it")
        out.append(text)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Rendered:
    """Contents rendered for a whole frame, aligned with it: ``content`` (``""`` where a row
    cannot be rendered), ``missing`` (the first missing field's name per row, or ``""``) and
    ``broken`` (the first field whose text is broken, i.e. holds a lone surrogate, or ``""``)."""

    content: pd.Series
    missing: pd.Series
    broken: pd.Series


def render_column(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """One column as message text (string dtype) and a boolean mask of the rows it cannot
    fill (missing values and broken text), vectorised."""
    text, missing, broken = _render_column(values)
    return text, missing | broken


def _render_column(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(text, missing mask, broken-text mask) of one column."""
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values):
        try:
            text = values.astype(WORK_STRING)
        except UnicodeEncodeError:  # python-backed strings with lone surrogates: per value
            return _render_column(values.astype(object))
        missing = text.isna() | (text.str.strip() == "")
        no = pd.Series(False, index=values.index)
        return text.fillna(""), missing.fillna(True).astype(bool), no
    # Anything else (numbers, objects, categories): render each distinct value once.
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    rendered = [format_value(u) for u in uniques]
    bad = np.array([r is not None and has_surrogate(r) for r in rendered] + [False], dtype=bool)
    table = np.array(
        [r if r is not None and not b else "" for r, b in zip(rendered, bad, strict=False)] + [""],
        dtype=object,
    )
    miss = np.array([r is None for r in rendered] + [True], dtype=bool)
    text = pd.Series(table[codes], index=values.index, dtype=WORK_STRING)
    return (
        text,
        pd.Series(miss[codes], index=values.index),
        pd.Series(bad[codes], index=values.index),
    )


def render_frame(template: str, frame: pd.DataFrame) -> Rendered:
    """Render ``template`` for every row of ``frame`` with vectorised concatenation.

    Raises :class:`UsageError` naming any placeholder that is not a column.

    >>> df = pd.DataFrame({"n": ["Ann", None]})
    >>> r = render_frame("Hi {n}!", df)
    >>> list(r.content), list(r.missing)
    (['Hi Ann!', ''], ['', 'n'])
    """
    tpl = parse_template(template)
    labels = {f: field_column(f, frame.columns) for f in tpl.fields}
    unknown = [f for f, label in labels.items() if label is None]
    if unknown:
        raise UsageError(
            f"content template uses {', '.join('{' + f + '}' for f in unknown)} but the frame has "
            f"no such column; columns are: {', '.join(map(str, frame.columns))}"
        )
    columns: dict[Hashable, tuple[pd.Series, pd.Series, pd.Series]] = {}
    for field in tpl.fields:
        col = frame[labels[field]]
        if isinstance(col, pd.DataFrame):
            raise UsageError(f"column {field!r} appears more than once in the frame")
        columns[field] = _render_column(col.reset_index(drop=True))
    n = len(frame)
    parts: list[pd.Series | str] = []
    for literal, name in tpl.pieces:
        if literal:
            parts.append(literal)
        if name is not None:
            parts.append(columns[name][0])
    if not parts:
        content = pd.Series([""] * n, dtype=WORK_STRING)
    else:
        acc: pd.Series | str = parts[0]
        for p in parts[1:]:
            acc = acc + p
        content = acc if isinstance(acc, pd.Series) else pd.Series([acc] * n, dtype=WORK_STRING)
    # object dtype on purpose: pandas would infer (and convert to) its str dtype
    missing = pd.Series(np.full(n, "", dtype=object), dtype=object)
    broken = pd.Series(np.full(n, "", dtype=object), dtype=object)
    any_broken = False
    for field in reversed(tpl.fields):  # reversed: the first missing (or broken) field wins
        missing[columns[field][1].to_numpy(dtype=bool)] = field
        bad = columns[field][2].to_numpy(dtype=bool)
        if bad.any():  # rare: only then does ``broken`` cost a comparison below
            broken[bad] = field
            any_broken = True
    fillable = missing == ""
    if any_broken:
        fillable &= broken == ""
    content = content.where(fillable, "")
    content.index = frame.index
    missing.index = frame.index
    broken.index = frame.index
    return Rendered(content.astype(WORK_STRING), missing, broken)
