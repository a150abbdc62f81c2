"""Each recipient's time zone: from a column, else from the number, else a default.

The number gives its zone by prefix: the country calling code, and for countries with
several zones (US, CA, BR, RU, AU, MX, ID, ...) the area code or a longer prefix. The
table (:mod:`itnio_campaign.tz_prefixes`, 3,240 prefixes, 43 KB) is generated from the full
``phonenumbers`` package's timezone data; the package itself stays ``phonenumberslite``.

Measured on 2026-11-29 (this machine, Python 3.11, phonenumbers 9.0.42):

=====================================  =====================  ================================
                                       full ``phonenumbers``  ``phonenumberslite`` + the table
=====================================  =====================  ================================
installed size                         48 MB (40 MB geodata)  5.3 MB + 43 KB
import (package + timezone data)       0.39 s + 0.05 s        0.05 s + 0.01 s
memory of the timezone data            1.5 MB                 ~1 MB (dict of 3,240 prefixes)
1M numbers, ``time_zones_for_number``  63 s (parse + lookup;  —
                                       26 s lookup only)
1M numbers, :func:`candidate_zones`    —                      ~1 s (per distinct prefix)
=====================================  =====================  ================================

Choice: keep ``phonenumberslite`` and ship the generated table: the same answers, a ninth
of the install and no per-number Python call. The data is phonenumbers' (Apache 2.0); to
regenerate after a phonenumbers release, install the full package in a scratch folder and
turn ``phonenumbers.tzdata.TIMEZONE_DATA`` into ``prefix:zone-index`` entries as the module
:mod:`itnio_campaign.tz_prefixes` shows (old zone names mapped to current IANA names).

Known limits of the data: Russian mobiles (+79) all map to Moscow, Australian mobiles
(+614) to Sydney. Pass ``tz_col=`` when you know better.

>>> candidate_zones(pd.Series(["12125550143", "919876543210", "16505550143"])).tolist()
[('America/New_York',), ('Asia/Kolkata',), ('America/Los_Angeles',)]
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from .errors import UsageError
from .message import WORK_STRING

#: tz_source values: where a recipient's zone came from.
TZ_SOURCES = ("column", "number", "default", "country-restrictive")


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]], list[int]]:
    """prefix -> zones; n-digit prefixes that longer prefixes extend, by n; lengths."""
    from . import tz_prefixes as data

    table: dict[str, tuple[str, ...]] = {}
    for part in "".join(data.DATA).split(";"):
        if part:
            prefix, idx = part.split(":")
            table[prefix] = tuple(data.ZONES[int(i)] for i in idx.split(","))
    lengths = sorted({len(p) for p in table})
    stems = {str(n): frozenset(p[:n] for p in table if len(p) > n) for n in lengths}
    return table, stems, lengths


def candidate_zones(numbers: pd.Series) -> pd.Series:
    """The zones each API-form number (digits, ``12125550143``) may be in, by its longest
    known prefix; ``()`` when none is known. Looked up once per distinct prefix, shortest
    first; only numbers a longer prefix may still match are looked at again.

    >>> candidate_zones(pd.Series(["61412345678", "5511987654321"])).tolist()
    [('Australia/Sydney',), ('America/Sao_Paulo',)]
    """
    codes, uniques = _candidate_codes(numbers)
    table = _objs((), len(uniques))
    for k, u in enumerate(uniques):
        table[k] = u
    return pd.Series(table[codes], index=numbers.index, dtype=object)


def _candidate_codes(numbers: pd.Series) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """:func:`candidate_zones` as a code per row into a list of distinct zone tuples."""
    table, stems, lengths = _table()
    digits = numbers.astype(WORK_STRING).fillna("").reset_index(drop=True)
    uniques: list[tuple[str, ...]] = [()]
    ids: dict[tuple[str, ...], int] = {(): 0}
    out = np.zeros(len(digits), dtype=np.int64)
    alive = np.arange(len(digits))
    for n in lengths:
        if len(alive) == 0:
            break
        prefix = digits.iloc[alive].str.slice(0, n)
        keys, seen = pd.factorize(prefix)
        found = np.zeros(len(seen) + 1, dtype=np.int64)  # key -1 (none) -> 0: ()
        for k, u in enumerate(seen):
            zones = table.get(u, ())
            if zones not in ids:
                ids[zones] = len(uniques)
                uniques.append(zones)
            found[k] = ids[zones]
        hit = found[keys]
        known = hit > 0
        out[alive[known]] = hit[known]
        alive = alive[prefix.isin(stems[str(n)]).to_numpy(dtype=bool)]
    return out, uniques


def _objs(value: object, n: int) -> np.ndarray:
    """An object array of ``n`` times ``value`` (a tuple stays one element)."""
    one = np.empty(1, dtype=object)
    one[0] = value
    return np.repeat(one, n)


def check_zone(name: object, what: str = "default_tz") -> str:
    """``name`` if it is an IANA time zone (``"Asia/Kolkata"``), else :class:`UsageError`.

    >>> check_zone("Europe/Paris")
    'Europe/Paris'
    """
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{what} must be an IANA time zone name like 'Asia/Kolkata', not {name!r}")
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"{what} {name!r} is not an IANA time zone name (like 'Asia/Kolkata', "
            "'America/New_York')"
        ) from None
    return name.strip()


def assign_zones(
    numbers: pd.Series,
    *,
    tz_values: pd.Series | None = None,
    default_tz: str | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(zones, tz, tz_source) per row: the zones a row's window must hold in (a tuple), its
    ``tz`` text (one IANA name; several joined by ``,`` for ``country-restrictive``) and
    where it came from (:data:`TZ_SOURCES`).

    Order: ``tz_values`` (a column; empty cells fall through; a name that is not a zone is a
    :class:`UsageError` naming it), then the number when its prefix gives one zone, then
    ``default_tz`` (when the number gives none, or several of which it is one), else every
    zone the number may be in (``country-restrictive``: the window must hold in all).
    """
    codes, uniques = _candidate_codes(numbers)  # decided once per set of possible zones
    u_zones = _objs((), len(uniques))
    u_source = _objs("number", len(uniques))
    for k, c in enumerate(uniques):
        if len(c) == 1:
            u_zones[k] = c
        elif default_tz is not None and (len(c) == 0 or default_tz in c):
            u_zones[k], u_source[k] = (default_tz,), "default"
        elif len(c) == 0:
            u_zones[k], u_source[k] = ("UTC",), "default"
        else:
            u_zones[k], u_source[k] = c, "country-restrictive"
    u_tz = np.array([",".join(z) for z in u_zones], dtype=object)
    zones, source, tz = u_zones[codes], u_source[codes], u_tz[codes]
    if tz_values is not None:
        given = tz_values.reset_index(drop=True).astype(object)
        text = given.where(given.notna(), "").astype(str).str.strip().to_numpy(dtype=object)
        has = text != ""
        bad = sorted({t for t in set(text[has]) if not _is_zone(t)})
        if bad:
            shown = ", ".join(repr(b) for b in bad[:3])
            raise UsageError(
                f"tz_col has {len(bad):,} value(s) that are not IANA time zone names, e.g. "
                f"{shown}; use names like 'Asia/Kolkata' or 'America/New_York'"
            )
        for i in np.flatnonzero(has):
            zones[i] = (text[i],)
        source[has] = "column"
        tz[has] = text[has]
    index = numbers.index
    return (
        pd.Series(zones, index=index, dtype=object),
        pd.Series(tz, index=index, dtype=object),
        pd.Series(source, index=index, dtype=object),
    )


@lru_cache(maxsize=4096)
def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


__all__ = ["TZ_SOURCES", "assign_zones", "candidate_zones", "check_zone"]
