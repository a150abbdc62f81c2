"""Suppression lists: the numbers a campaign must never message, read once, with counts.

One reader for the API (``plan_campaign(suppress=...)``), the CLI (``--suppress``) and the
form (an uploaded file), so all three accept the same sources and refuse the same mistakes.
A source is one of:

* a path (``pathlib.Path`` or a string naming an existing file): a CSV/TSV/TXT, XLSX or
  Parquet file, with or without a header row; its only column or its phone column is read
  (:func:`~itnio_campaign.contacts.read_numbers`). File bytes work too, with ``name=``;
* any other string: it must be, wholly, a list of phone numbers separated by commas,
  semicolons, tabs, line breaks or spaces (``"919800000001;919800000002"``). A string that is
  neither an existing file nor such a list (a mistyped file name, a folder) is refused;
* a list/tuple/set/Series of numbers, or a DataFrame (its only column or its phone column).
  Items of a list that are ``pathlib.Path`` or :class:`SuppressionList` are read as sources
  of their own;
* a :class:`SuppressionList` already read.

Counting rules. ``entries`` are the non-blank values read, ``valid`` those that are phone
numbers (normalised exactly like the campaign's numbers, in the same default region). Entries
of a file or a list that are not phone numbers (a note, ``n/a``, a negative number) are
counted as invalid and shown in the dry run, not fatal; but a file or a list with entries and
not one valid number is refused (a wrong column or a wrong file), and so is a file without
entries (a list of nothing is a mistake). An empty list in memory (``[]``) is accepted: a
computed opt-out list may well be empty.

    >>> s = read_suppression("919800000001; 919800000002")
    >>> s.entries, s.valid, sorted(s.numbers)
    (2, 2, ['919800000001', '919800000002'])
    >>> read_suppression(["919800000001", "n/a", None]).describe()
    "2 entries read, 1 valid number (1 not a phone number, e.g. 'n/a')"
    >>> read_suppression("opt_outs_2024")
    Traceback (most recent call last):
    ...
    itnio_campaign.errors.UsageError: suppress 'opt_outs_2024': no such file, and not a list \
of phone numbers
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .contacts import number_column, read_numbers
from .errors import UsageError
from .models import READY
from .numbers import EMPTY, check_region, normalize_numbers

#: Separators of a list of numbers given as one string (spaces only split when a piece
#: between the others is not a number as a whole: "+91 98000 00001" stays one number).
_LIST_SEPARATORS = re.compile(r"[,;\t\r\n]+")
#: Invalid entries shown as examples.
EXAMPLES = 3


@dataclass(frozen=True)
class SuppressionList:
    """Numbers never to message (API form, e.g. ``919800000001``) and what was read.

    ``entries``: non-blank values read; ``valid``: those that are phone numbers (repeats
    included; ``len(numbers)`` counts distinct numbers); ``sources``: a description of each
    source; ``examples``: a few entries that are not phone numbers; ``region``: the default
    region national numbers were read in.
    """

    numbers: frozenset[str]
    entries: int
    valid: int
    sources: tuple[str, ...]
    examples: tuple[str, ...] = ()
    region: str = "IN"
    #: Every entry as text, to read the list again in another region.
    texts: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def invalid(self) -> int:
        """Entries that are not phone numbers."""
        return self.entries - self.valid

    def __len__(self) -> int:
        return len(self.numbers)

    def __contains__(self, number: object) -> bool:
        return number in self.numbers

    def describe(self) -> str:
        """One line, e.g. ``"44 entries read, 42 valid numbers (2 not phone numbers, e.g. …)"``.

        >>> read_suppression(["919800000001"]).describe()
        '1 entry read, 1 valid number'
        """
        text = f"{_count(self.entries, 'entry', 'entries')} read, " + _count(
            self.valid, "valid number", "valid numbers"
        )
        if self.invalid:
            shown = ", ".join(self.examples)
            text += f" ({_count(self.invalid, 'not a phone number', 'not phone numbers')}"
            text += f", e.g. {shown})" if shown else ")"
        return text

    def in_region(self, region: str) -> SuppressionList:
        """The same entries read with national numbers in ``region``."""
        region = check_region(region)
        if region == self.region:
            return self
        again = _from_values(pd.Series(self.texts, dtype=object), "", region, "suppress")
        return SuppressionList(
            again.numbers, self.entries, again.valid, self.sources, again.examples, region,
            self.texts,
        )  # fmt: skip

    @property
    def description(self) -> str:
        """The sources, for the plan's settings (e.g. ``"opt_outs.csv; 3 values"``)."""
        return "; ".join(self.sources)


def read_suppression(
    source: Any,
    *,
    default_region: str = "IN",
    name: str | None = None,
    what: str = "suppress",
) -> SuppressionList:
    """Read one suppression source (see the module docstring for what a source can be).

    ``default_region`` reads national numbers (as the campaign's own numbers are read);
    ``name`` is an uploaded file's name when ``source`` is its bytes; ``what`` names the
    source in error messages (``"--suppress"`` for the CLI). Raises :class:`UsageError` with
    one line for a source that cannot be read, a string that is neither a file nor a list of
    numbers, a folder, and a file or list without any valid number.

    >>> read_suppression(b"phone\\n+91 98000 00001\\n", name="opt_outs.csv").numbers
    frozenset({'919800000001'})
    """
    region = check_region(default_region)
    if isinstance(source, SuppressionList):
        return source.in_region(region)
    if isinstance(source, bytes | bytearray | memoryview):
        return _from_file(bytes(source), name or "the uploaded file", region, what, name)
    if isinstance(source, os.PathLike):
        return _from_file(source, os.fspath(source), region, what, name)
    if isinstance(source, str):
        return _from_string(source, region, what, name)
    if isinstance(source, pd.DataFrame):
        return _from_values(_number_column(source, what), "a DataFrame", region, what)
    if isinstance(source, pd.Series):
        return _from_values(source, f"{len(source):,} values", region, what)
    if isinstance(source, Iterable) and not isinstance(source, Mapping):
        items = list(source)
        nested = [x for x in items if isinstance(x, SuppressionList | os.PathLike)]
        values = [x for x in items if not isinstance(x, SuppressionList | os.PathLike)]
        if not nested:
            return _from_values(pd.Series(values, dtype=object), f"{len(values):,} values",
                                region, what)  # fmt: skip
        parts = [read_suppression(x, default_region=region, what=what) for x in nested]
        if values:
            parts.append(_from_values(pd.Series(values, dtype=object),
                                      f"{len(values):,} values", region, what))  # fmt: skip
        return combine(parts)
    raise UsageError(
        f"{what} must be a Series, a one-column DataFrame, a list/set, a string of numbers, "
        f"or a CSV/XLSX/Parquet path or file bytes; got {type(source).__name__}"
    )


def read_suppressions(
    sources: Iterable[Any], *, default_region: str = "IN", what: str = "suppress"
) -> SuppressionList | None:
    """Several sources, each read by :func:`read_suppression` (strings are files or lists of
    numbers, as ``--suppress`` values are), combined; ``None`` when there are none.

    >>> read_suppressions(["919800000001", "919800000002,919800000003"]).valid
    3
    >>> read_suppressions([]) is None
    True
    """
    parts = [read_suppression(s, default_region=default_region, what=what) for s in sources]
    return combine(parts) if parts else None


def combine(lists: Iterable[SuppressionList]) -> SuppressionList:
    """One list with every number and every count of ``lists`` (read in the first's region).

    >>> a, b = read_suppression("919800000001"), read_suppression(["919800000001", "x"])
    >>> combine([a, b]).describe()
    "3 entries read, 2 valid numbers (1 not a phone number, e.g. 'x')"
    """
    parts = list(lists)
    if not parts:
        raise UsageError("no suppression lists to combine")
    region = parts[0].region
    parts = [p.in_region(region) for p in parts]
    return SuppressionList(
        numbers=frozenset().union(*(p.numbers for p in parts)),
        entries=sum(p.entries for p in parts),
        valid=sum(p.valid for p in parts),
        sources=tuple(s for p in parts for s in p.sources),
        examples=tuple(e for p in parts for e in p.examples)[:EXAMPLES],
        region=region,
        texts=tuple(t for p in parts for t in p.texts),
    )


# --- sources --------------------------------------------------------------------------------


def _from_file(
    source: bytes | os.PathLike[str] | str, label: str, region: str, what: str, name: str | None
) -> SuppressionList:
    if not isinstance(source, bytes) and Path(source).is_dir():
        raise UsageError(f"{what} {label!r} is a folder, not a file of numbers")
    try:
        texts = read_numbers(source, name=name, what=what)
    except UsageError as exc:
        raise UsageError(f"{what}: {exc}") from exc
    if not texts:
        raise UsageError(
            f"{what} {label!r}: the file has no numbers (a suppression list of nothing is a "
            "mistake: check the file)"
        )
    return _from_values(pd.Series(texts, dtype=object), label, region, what, required=True)


def _from_string(text: str, region: str, what: str, name: str | None) -> SuppressionList:
    path = Path(text)
    if text.strip() and path.is_dir():
        raise UsageError(f"{what} {text!r} is a folder, not a file of numbers")
    if text.strip() and path.is_file():
        return _from_file(path, text, region, what, name)
    pieces = [p.strip() for p in _LIST_SEPARATORS.split(text) if p.strip()]
    numbers, bad = _numbers_of_pieces(pieces, region)
    if not pieces or bad:
        detail = ""
        if numbers:  # mostly numbers: name the pieces that are not
            detail = f" ({', '.join(map(repr, bad[:EXAMPLES]))} not a phone number)"
        raise UsageError(f"{what} {text!r}: no such file, and not a list of phone numbers{detail}")
    values = pd.Series(numbers, dtype=object)
    short = text if len(text) <= 40 else text[:37] + "..."
    return _from_values(values, f"numbers {short!r}", region, what, required=True)


def _numbers_of_pieces(pieces: list[str], region: str) -> tuple[list[str], list[str]]:
    """(the number texts, the pieces that are not numbers): a piece that is not one number
    as a whole may be several numbers separated by spaces."""
    if not pieces:
        return [], []
    ok = _valid_mask(pd.Series(pieces, dtype=object), region)
    numbers: list[str] = []
    bad: list[str] = []
    for piece, good in zip(pieces, ok, strict=True):
        if good:
            numbers.append(piece)
            continue
        words = piece.split()
        if len(words) > 1 and _valid_mask(pd.Series(words, dtype=object), region).all():
            numbers += words
        else:
            bad.append(piece)
    return numbers, bad


def _valid_mask(values: pd.Series, region: str) -> np.ndarray:
    state = normalize_numbers(values, default_region=region)["state"]
    return (state == READY).to_numpy(dtype=bool, na_value=False)


def _number_column(frame: pd.DataFrame, what: str) -> pd.Series:
    """A DataFrame's only column, or its phone column (as :func:`read_numbers` picks it)."""
    return number_column(frame, f"{what}: the DataFrame", "pass one column, e.g. opt_outs['phone']")


def _from_values(
    values: pd.Series, description: str, region: str, what: str, required: bool = False
) -> SuppressionList:
    """Count and normalise values; a list with entries and no valid number is refused."""
    values = values.reset_index(drop=True)
    norm = normalize_numbers(values, default_region=region)
    reasons = norm["reason"].to_numpy(dtype=object, na_value="")
    entry = reasons != EMPTY
    ok = (norm["state"] == READY).to_numpy(dtype=bool, na_value=False)
    entries, valid = int(entry.sum()), int(ok.sum())
    bad = values[entry & ~ok]
    examples = tuple(repr(_plain(v)) for v in bad.head(EXAMPLES).tolist())
    if (entries or required) and not valid:
        shown = f" (e.g. {', '.join(examples)})" if examples else ""
        raise UsageError(
            f"{what} {description}: none of its {entries:,} entries is a valid phone "
            f"number{shown}; check the file or column"
        )
    return SuppressionList(
        numbers=frozenset(norm["number"][ok].tolist()),
        entries=entries,
        valid=valid,
        sources=(description,) if description else (),
        examples=examples,
        region=region,
        texts=tuple(str(_plain(v)) for v in values[entry].tolist()),
    )


def _plain(value: Any) -> Any:
    """numpy scalars as Python values (``np.int64(5)`` → ``5``), for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


__all__ = ["SuppressionList", "combine", "read_suppression", "read_suppressions"]
