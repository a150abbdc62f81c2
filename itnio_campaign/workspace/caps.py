"""Frequency caps, the repeat guard, and the content hash the history keeps.

>>> [rule.text for rule in parse_frequency_cap("1/24h, 4/30d")]
['1/24h', '4/30d']
>>> parse_duration("7d")
604800.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UsageError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
#: The content hash: SipHash-2-4 of the UTF-8 text with this key (pandas' hash_array),
#: stored as a signed 64-bit integer. Changing it would blind the repeat guard to history.
HASH_KEY = "itnio-workspace1"
HASH_NAME = f"siphash24-utf8:{HASH_KEY}"


@dataclass(frozen=True)
class CapRule:
    """At most ``limit`` SMS per number in any ``seconds`` window (``text``: as written)."""

    limit: int
    seconds: float
    text: str


def parse_duration(text: Any, what: str = "repeat_guard") -> float:
    """Seconds in ``"90m"``, ``"24h"``, ``"7d"``, ``"2w"``."""
    m = _DURATION.match(str(text)) if isinstance(text, str) else None
    if m is None or float(m.group(1)) <= 0:
        raise UsageError(f"{what} {text!r}: write a duration such as '24h', '7d' or '2w'")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_frequency_cap(text: Any) -> tuple[CapRule, ...]:
    """Rules from ``"1/24h,4/30d"`` (``None`` or ``""``: no cap)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return ()
    if not isinstance(text, str):
        raise UsageError(f"frequency_cap must be text such as '1/24h,4/30d', got {text!r}")
    rules = []
    for part in text.split(","):
        count, _, window = part.strip().partition("/")
        if not count.strip().isdigit() or int(count) < 1 or not window:
            raise UsageError(
                f"frequency_cap {text!r}: each rule is COUNT/WINDOW, e.g. '1/24h' or '4/30d'"
            )
        seconds = parse_duration(window, f"frequency_cap {text!r}:")
        rules.append(CapRule(int(count), seconds, f"{int(count)}/{window.strip()}"))
    return tuple(rules)


def parse_repeat_guard(value: Any) -> float | None:
    """Seconds of the repeat guard; ``None``, ``False``, ``"off"`` or ``0``: off."""
    if value is None or value is False or (isinstance(value, str) and value.strip() in ("off", "")):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value == 0:
            return None
        if value < 0:
            raise UsageError(f"repeat_guard must be a duration such as '7d', got {value!r}")
        return float(value)
    return parse_duration(value)


def describe_guard(seconds: float | None) -> str | None:
    """``604800.0`` -> ``"7d"`` (as stored in the plan's settings)."""
    if seconds is None:
        return None
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def content_hashes(contents: pd.Series | np.ndarray) -> np.ndarray:
    """A signed 64-bit hash per content (0 where there is none), vectorised.

    >>> content_hashes(pd.Series(["Hi", None, "Hi"])).tolist() == [content_hashes(["Hi"])[0], 0,
    ...                                                             content_hashes(["Hi"])[0]]
    True
    """
    values = contents if isinstance(contents, pd.Series) else pd.Series(contents, dtype=object)
    has = values.notna().to_numpy()
    out = np.zeros(len(values), dtype=np.int64)
    if has.any():
        text = values[has] if not has.all() else values
        if not isinstance(text.dtype, pd.StringDtype):
            text = text.astype(str)
        # text hashed as UTF-8 with HASH_KEY; each distinct text once (contents repeat)
        hashed = pd.util.hash_pandas_object(
            text, index=False, encoding="utf8", hash_key=HASH_KEY, categorize=True
        )
        out[has] = hashed.to_numpy().view(np.int64)
    return out


def number_ints(numbers: pd.Series | np.ndarray) -> np.ndarray:
    """API-form numbers (digits) as int64; -1 where a value is not a number."""
    if isinstance(numbers, pd.Series) and isinstance(numbers.dtype, pd.StringDtype):
        fast = _arrow_ints(numbers)
        if fast is not None:
            return fast
    values = pd.Series(numbers, dtype=object, copy=False)
    try:  # the usual case: every value is digits (fast path)
        out = values.astype(np.int64).to_numpy()
        if (out > 0).all():
            return out
    except (ValueError, TypeError, OverflowError):
        pass
    digits = values.astype(str).str.fullmatch(r"[1-9]\d{0,17}").to_numpy(dtype=bool, na_value=False)
    out = np.full(len(values), -1, dtype=np.int64)
    out[digits] = values[digits].astype(np.int64).to_numpy()
    return out


def _arrow_ints(numbers: pd.Series) -> np.ndarray | None:
    """Digits in Arrow-backed strings as int64, in C; ``None``: not that case (no pyarrow,
    other storage, or a value that is not digits)."""
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.compute as pc  # type: ignore[import-untyped]
    except ImportError:
        return None
    if getattr(numbers.dtype, "storage", None) != "pyarrow":
        return None
    arr = pa.array(numbers.array)  # the Arrow data itself, not a copy
    if arr.null_count:
        return None
    try:
        out = np.asarray(pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return out if (out > 0).all() else None
