"""Phone numbers to the API form (country code + national number, digits only, no ``+``).

Accepted: ``+`` and ``00`` international prefixes, national numbers (with or without the trunk
``0``) read in a default or per-row region, spaces, dashes, dots, parentheses, slashes, a
leading apostrophe (Excel's "text" marker), integral floats from Excel (``918563012345.0``).
A bare digit string is read as a national number of the region first, then as an
international number without its ``+`` (Excel drops it).

Never guessed, skipped with a reason instead (:data:`REASONS`):

* ``empty``: NaN, None, blank;
* ``precision_lost``: scientific notation whose digits were rounded (``"9.18563e+11"``), or a
  float that cannot be exact: 16+ digits, or 11+ digits ending in five zeros (what
  ``9.18563e+11`` becomes once a CSV reader turns it into a float);
* ``not_a_phone_number``: letters, other symbols (``;``, ``#``, ``*``: also two numbers in
  one cell, never just the first of them), fractions, a leading minus sign (text
  ``"-918563012356"`` and the integer ``-918563012356`` alike), broken text (a lone
  surrogate, e.g. half an emoji);
* ``unknown_region``: the row's region is not an ISO region phonenumbers knows;
* ``invalid_number``: ``phonenumbers.is_valid_number`` says no, or the result is not 8..15
  digits.

Speed: phonenumbers costs ~40 µs a number. :func:`normalize_numbers` first runs an exact,
vectorised version of ``is_valid_number`` (phonenumbers' own metadata regexes, run with pandas
``.str`` ops, so RE2 under pyarrow) on clean digit strings; anything that fast path cannot
vouch for goes through phonenumbers itself, once per distinct (value, region).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata

from .errors import UsageError
from .message import WORK_STRING
from .models import READY, SKIPPED_INVALID, has_surrogate

EMPTY = "empty"
PRECISION_LOST = "precision_lost"
NOT_A_PHONE_NUMBER = "not_a_phone_number"
UNKNOWN_REGION = "unknown_region"
INVALID_NUMBER = "invalid_number"
#: Every reason a number can be refused, in the order the checks run.
REASONS = (EMPTY, PRECISION_LOST, NOT_A_PHONE_NUMBER, UNKNOWN_REGION, INVALID_NUMBER)

#: What the sandbox and the provider accept as a number length.
MIN_DIGITS, MAX_DIGITS = 8, 15

# Separators people type: whitespace, dashes (incl. Unicode dashes), dots, parentheses, slash.
# Literal characters (no \s, no \u escapes) so pandas can hand the pattern to pyarrow (RE2).
_SEPARATORS = "[ \t\r\n\x0b\x0c\u00a0\u2000-\u200b\u202f\u3000\u2010-\u2015.()/-]"
_SEPARATORS_RE = re.compile(_SEPARATORS)
_SCIENTIFIC_RE = re.compile(r"[+]?([0-9])(?:\.([0-9]+))?[eE][+]?([0-9]+)")
_EXCEL_FLOAT_TEXT = r"^([0-9]{6,})\.0$"  # "918563012345.0": a float written as text
_EXCEL_FLOAT_TEXT_RE = re.compile(_EXCEL_FLOAT_TEXT)
_LETTERS_RE = re.compile(r"[^\W\d_]")
#: What a number is once separators are gone: digits (any script), with a leading "+".
#: Anything else ("919800000001;919800000002", "98000*00001") is refused here: phonenumbers
#: would read the digits before the junk and drop the rest.
_DIGITS_RE = re.compile(r"\+?\d+")
#: A leading minus sign (ASCII or U+2212): a negative number is not a phone number.
_MINUS = ("-", "\u2212")

# Every number type phonenumbers knows; a number is valid if it matches any of them.
_TYPES_BY_FREQUENCY = (
    "mobile",
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


class InvalidNumberError(UsageError):
    """A value is not a valid phone number; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, value: Any, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"not a valid phone number {value!r}: {reason}")


def check_region(region: Any) -> str:
    """``region`` upper-cased if phonenumbers knows it, else :class:`UsageError`."""
    code = str(region).strip().upper() if isinstance(region, str) else ""
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise UsageError(
            f"unknown region {region!r}: use an ISO 3166 code phonenumbers knows, e.g. 'IN', 'US'"
        )
    return code


# --- one value (the reference semantics; the vectorised path must agree with it) --------


def _float_text(f: float) -> tuple[str | None, str | None]:
    if math.isnan(f):
        return None, EMPTY
    if not f.is_integer() or f < 0:
        return None, NOT_A_PHONE_NUMBER
    if f >= 2**53 or (f >= 1e10 and f % 100_000 == 0):
        return None, PRECISION_LOST
    return str(int(f)), None


def _scientific_text(m: re.Match[str]) -> tuple[str | None, str | None]:
    """Scientific notation is exact only if the mantissa spells every digit of the integer."""
    lead, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
    try:
        value = Decimal(m.group(0))
    except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
        return None, NOT_A_PHONE_NUMBER
    if len(frac) > exp or value != value.to_integral_value():
        return None, NOT_A_PHONE_NUMBER
    if len(frac) < exp:  # digits beyond the mantissa were rounded away
        return None, PRECISION_LOST
    return lead + frac, None


def value_to_text(value: Any) -> tuple[str | None, str | None]:
    """A cell as number text, or ``(None, reason)``. Floats and scientific text are checked."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None, EMPTY
    if isinstance(value, bool | np.bool_):
        return None, NOT_A_PHONE_NUMBER
    if isinstance(value, float | np.floating):
        return _float_text(float(value))
    if isinstance(value, int | np.integer):
        return (str(int(value)), None) if value >= 0 else (None, NOT_A_PHONE_NUMBER)
    text = str(value).strip().lstrip("'").strip()
    if not text:
        return None, EMPTY
    if text.startswith(_MINUS) or has_surrogate(text):
        return None, NOT_A_PHONE_NUMBER
    sci = _SCIENTIFIC_RE.fullmatch(text)
    if sci:
        return _scientific_text(sci)
    m = _EXCEL_FLOAT_TEXT_RE.match(text)
    return (m.group(1) if m else text), None


def _valid_e164(parsed: phonenumbers.PhoneNumber) -> str | None:
    if not phonenumbers.is_valid_number(parsed):
        return None
    digits = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    return digits if MIN_DIGITS <= len(digits) <= MAX_DIGITS else None


def _try_parse(text: str, region: str | None) -> str | None:
    try:
        return _valid_e164(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return None


@lru_cache(maxsize=200_000)
def text_to_number(text: str, region: str | None) -> tuple[str | None, str | None]:
    """Number text (see :func:`value_to_text`) in ``region`` → ``(digits, None)`` or
    ``(None, reason)``. ``region`` ``None`` means "unknown region" (international only)."""
    cleaned = _SEPARATORS_RE.sub("", text)
    if not cleaned:
        return None, NOT_A_PHONE_NUMBER
    if _LETTERS_RE.search(cleaned):  # phonenumbers would read letters as a vanity number
        return None, NOT_A_PHONE_NUMBER
    if not _DIGITS_RE.fullmatch(cleaned):  # two numbers in one cell, stray symbols
        return None, NOT_A_PHONE_NUMBER
    if cleaned.startswith("00") and cleaned[2:].isdigit():
        cleaned = "+" + cleaned[2:]
    if cleaned.startswith("+"):
        if not cleaned[1:].isascii() or not cleaned[1:].isdigit():
            return None, NOT_A_PHONE_NUMBER
        number = _try_parse(cleaned, None)
    elif cleaned.isascii() and cleaned.isdigit():
        number = _try_parse(cleaned, region) if region else None
        if number is None and cleaned[0] != "0":
            number = _try_parse("+" + cleaned, None)  # international without its '+'
    elif region:  # e.g. non-ASCII digits: let phonenumbers read them
        number = _try_parse(cleaned, region)
        if number is None:
            return None, NOT_A_PHONE_NUMBER
    else:
        return None, NOT_A_PHONE_NUMBER
    if number is None:
        return None, INVALID_NUMBER if region or cleaned.startswith("+") else UNKNOWN_REGION
    return number, None


def normalize_number(value: Any, default_region: str = "IN") -> str:
    """One phone number in the API form; :class:`InvalidNumberError` (a UsageError) if not valid.

    >>> normalize_number("+91 85630-12345")
    '918563012345'
    >>> normalize_number("085630 12345"), normalize_number(918563012345.0)
    ('918563012345', '918563012345')
    >>> normalize_number("(202) 555-0143", default_region="US")
    '12025550143'
    """
    region = check_region(default_region)
    text, reason = value_to_text(value)
    if text is not None:
        number, reason = text_to_number(text, region)
        if number is not None:
            return number
    raise InvalidNumberError(value, reason or INVALID_NUMBER)


# --- the vectorised fast path ----------------------------------------------------------


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


def _contains(values: pd.Series, pattern: str) -> pd.Series:
    """Boolean ``values.str.contains(pattern)`` (regex; NA → False), same index."""
    with warnings.catch_warnings():  # metadata patterns have groups; we only test for a match
        warnings.simplefilter("ignore", UserWarning)
        hit = values.str.contains(pattern, regex=True)
    return pd.Series(hit.to_numpy(dtype=bool, na_value=False), index=values.index)


def _matches(nsn: pd.Series, lengths: pd.Series, desc: Any) -> pd.Series:
    """Vectorised ``phonenumberutil._is_number_matching_desc``."""
    if desc is None or desc.national_number_pattern is None:
        return pd.Series(False, index=nsn.index)
    ok = lengths.isin(desc.possible_length) if desc.possible_length else True
    return _contains(nsn, _anchored(desc.national_number_pattern)) & ok


def _type_known(nsn: pd.Series, meta: Any) -> pd.Series:
    """Vectorised ``_number_type_helper(...) != UNKNOWN``: general desc and any type desc."""
    lengths = nsn.str.len()
    valid = _matches(nsn, lengths, meta.general_desc)
    if not valid.any():
        return valid
    # Any type will do, so test the common ones first and only the unmatched rows after.
    found = np.zeros(len(nsn), dtype=bool)
    todo = np.flatnonzero(valid.to_numpy())
    for name in _TYPES_BY_FREQUENCY:
        if len(todo) == 0:
            break
        hit = _matches(nsn.iloc[todo], lengths.iloc[todo], getattr(meta, name)).to_numpy()
        found[todo[hit]] = True
        todo = todo[~hit]
    return pd.Series(found, index=nsn.index)


def _fast_valid(cc: int, nsn: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``is_valid_number`` for national significant numbers of calling code ``cc``.

    Returns ``(valid, sure)``: where ``sure`` is False the caller must ask phonenumbers.
    Unsure: non-geographic codes, numbers phonenumbers would rewrite (a leading zero or a
    national prefix), and "invalid" verdicts for calling codes shared by several regions.
    """
    n = len(nsn)
    valid, sure = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
    if not regions or "001" in regions or n == 0:
        return valid, sure
    main = PhoneMetadata.metadata_for_region(regions[0])
    if main is None:
        return valid, sure
    candidate = ~_contains(nsn, "^0").to_numpy()
    npp = main.national_prefix_for_parsing
    if npp:
        candidate &= ~_contains(nsn, f"^(?:{npp})").to_numpy()
    idx = np.flatnonzero(candidate)
    sub = nsn.iloc[idx]
    if len(regions) == 1:
        valid[idx] = _type_known(sub, main).to_numpy()
        sure[idx] = True
        return valid, sure
    # Shared calling code (+1, +44, ...): phonenumbers picks the region by leading digits or
    # by the first region whose metadata knows the number, then validates for that region.
    unassigned = np.ones(len(sub), dtype=bool)
    for region in regions:
        meta = PhoneMetadata.metadata_for_region(region)
        if meta is None or not unassigned.any():
            continue
        at = np.flatnonzero(unassigned)
        rest = sub.iloc[at]
        if meta.leading_digits is not None:
            picked = _contains(rest, f"^(?:{meta.leading_digits})").to_numpy()
            ok = np.zeros(len(rest), dtype=bool)
            ok[picked] = _type_known(rest[picked], meta).to_numpy()
        else:
            picked = _type_known(rest, meta).to_numpy()
            ok = picked
        valid[idx[at[picked]]] = ok[picked]
        unassigned[at[picked]] = False
    sure[idx] = valid[idx]  # an "invalid" here may hide a region subtlety: let phonenumbers say
    return valid, sure


@lru_cache(maxsize=1)
def _calling_codes() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    codes = [str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE]
    return tuple(frozenset(c for c in codes if len(c) == n) for n in (1, 2, 3))  # type: ignore[return-value]


def calling_codes(numbers: pd.Series) -> pd.Series:
    """Country calling code of each API-form number (``918563012345`` → 91); 0 if none.

    >>> calling_codes(pd.Series(["918563012345", "12025550143"])).tolist()
    [91, 1]
    """
    digits = numbers.astype(WORK_STRING)
    out = np.zeros(len(digits), dtype=np.int64)
    for n, codes in enumerate(_calling_codes(), start=1):
        prefix = digits.str.slice(0, n)
        hit = prefix.isin(codes).to_numpy(dtype=bool, na_value=False) & (out == 0)
        out[hit] = prefix[hit].astype(int).to_numpy()
    return pd.Series(out, index=numbers.index)


def _fast_international(digits: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Digits after ``+``/``00``: ``(valid, sure)`` from the fast path, by position."""
    n = len(digits)
    valid, sure = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    cc_len = np.zeros(n, dtype=np.int64)
    for size, codes in enumerate(_calling_codes(), start=1):
        hit = digits.str.slice(0, size).isin(codes).to_numpy(dtype=bool, na_value=False)
        cc_len[hit & (cc_len == 0)] = size
    for size in (1, 2, 3):
        at = np.flatnonzero(cc_len == size)
        if len(at) == 0:
            continue
        group = digits.iloc[at]
        cc = group.str.slice(0, size).to_numpy(dtype=object)
        for code in pd.unique(cc):
            members = at[cc == code]
            v, s = _fast_valid(int(code), digits.iloc[members].str.slice(size))
            valid[members], sure[members] = v, s
    return valid, sure


# --- many values ----------------------------------------------------------------------


def _column_text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The column as string dtype (NA where unusable) and the reason array ("" if usable)."""
    n = len(values)
    reasons = np.full(n, "", dtype=object)
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        is_int_dtype = pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans
        if is_int_dtype:
            ints = values.to_numpy(dtype="int64")
            text = pd.Series(ints.astype(str), dtype=WORK_STRING)
            reasons[ints < 0] = NOT_A_PHONE_NUMBER
        else:
            nan = np.isnan(arr)
            integral = ~nan & (np.mod(arr, 1) == 0) & (arr >= 0)
            lost = integral & ((arr >= 2**53) | ((arr >= 1e10) & (np.mod(arr, 100_000) == 0)))
            good = integral & ~lost
            reasons[nan] = EMPTY
            reasons[~nan & ~integral] = NOT_A_PHONE_NUMBER
            reasons[lost] = PRECISION_LOST
            as_int = np.where(good, arr, 0).astype(np.int64)
            text = pd.Series(as_int.astype(str), dtype=WORK_STRING)
        text[reasons != ""] = pd.NA
        return text, reasons
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values):
        try:
            text = values.astype(WORK_STRING).reset_index(drop=True)
        except UnicodeEncodeError:  # lone surrogates (python-backed strings): per value below
            return _column_text(values.astype(object))
        text = text.str.strip().str.lstrip("'").str.strip()
        blank = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
        reasons[blank] = EMPTY
        negative = text.str.startswith(_MINUS).to_numpy(dtype=bool, na_value=False)
        reasons[negative] = NOT_A_PHONE_NUMBER
        sci_mask = _contains(text, _SCIENTIFIC_RE.pattern.join("^$")).to_numpy()
        if sci_mask.any():  # rare: by the exact rules, once per distinct value
            at = np.flatnonzero(sci_mask)
            codes, uniques = pd.factorize(text.iloc[at].to_numpy(dtype=object))
            answers = [value_to_text(u) for u in uniques]
            digits = np.array([d for d, _ in answers], dtype=object)[codes]
            reasons[at] = np.array([w or "" for _, w in answers], dtype=object)[codes]
            arr = np.array(text.astype(object).where(text.notna(), None), dtype=object)
            arr[at] = digits
            text = pd.Series(arr, dtype=WORK_STRING)
        text = text.str.replace(_EXCEL_FLOAT_TEXT, r"\1", regex=True)
        return text.where(pd.Series(reasons == ""), None), reasons
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        try:
            as_text = values.astype(WORK_STRING)
        except UnicodeEncodeError:  # lone surrogates: pyarrow cannot hold them; per value
            pass
        else:
            return _column_text(as_text)  # only text: the vectorised path
    # object / mixed / categorical: each distinct value once, by the scalar rules
    obj_codes, obj_uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    converted = [value_to_text(u) for u in obj_uniques]
    table = np.array([t for t, _ in converted] + [None], dtype=object)
    why = np.array([r or "" for _, r in converted] + [EMPTY], dtype=object)
    return pd.Series(table[obj_codes], dtype=WORK_STRING), why[obj_codes]


def _regions_per_row(
    n: int, default_region: str, regions: Iterable[Any] | pd.Series | None
) -> pd.Series:
    """Upper-cased region per row; "" marks an unknown region."""
    if regions is None:
        return pd.Series(default_region, index=range(n), dtype=WORK_STRING)
    r = pd.Series(
        list(regions) if not isinstance(regions, pd.Series) else regions.to_numpy(), dtype=object
    )
    if len(r) != n:
        raise UsageError(f"regions has {len(r)} values for {n} numbers")
    try:
        r = r.astype(WORK_STRING)
    except UnicodeEncodeError:  # broken text (a lone surrogate) is no region
        r = r.astype(object)
        r = r.where(~r.map(lambda v: isinstance(v, str) and has_surrogate(v)), "?")
        r = r.astype(WORK_STRING)
    r = r.str.strip().str.upper()
    r = r.where(r.notna() & (r != ""), default_region)
    known = r.isin(phonenumbers.SUPPORTED_REGIONS)
    return r.where(known, "").astype(WORK_STRING)


def normalize_numbers(
    series: pd.Series | Iterable[Any],
    default_region: str = "IN",
    regions: pd.Series | Iterable[Any] | None = None,
) -> pd.DataFrame:
    """Normalise a column: a frame with ``number`` (API form or NA), ``state``
    (``ready``/``skipped_invalid``) and ``reason`` ("" or one of :data:`REASONS`), same index.

    ``regions`` (optional, aligned by position) gives each row's ISO region for national
    numbers; blanks fall back to ``default_region``.

    >>> normalize_numbers(pd.Series(["+91 85630 12345", "9.18563e+11", None]))
    ... # doctest: +NORMALIZE_WHITESPACE
             number            state          reason
    0  918563012345            ready
    1          <NA>  skipped_invalid  precision_lost
    2          <NA>  skipped_invalid           empty
    """
    region = check_region(default_region)
    values = series if isinstance(series, pd.Series) else pd.Series(list(series), dtype=object)
    if isinstance(values, pd.DataFrame):
        raise UsageError("normalize_numbers needs one column (a Series), not a DataFrame")
    n = len(values)
    row_region = _regions_per_row(n, region, regions).to_numpy(dtype=object)
    text, reasons = _column_text(values)
    number = np.full(n, None, dtype=object)
    usable = reasons == ""
    cleaned = text.str.replace(_SEPARATORS, "", regex=True)
    plus = _contains(cleaned, r"^\+[0-9]+$").to_numpy() & usable
    zeros = _contains(cleaned, r"^00[0-9]+$").to_numpy() & usable
    bare = _contains(cleaned, r"^[1-9][0-9]*$").to_numpy() & usable
    trunk = _contains(cleaned, r"^0[1-9][0-9]*$").to_numpy() & usable

    # 1. bare digits as national numbers of the row's region (and the trunk prefix dropped
    #    when it is a plain literal such as India's "0", as phonenumbers would)
    for r in pd.unique(row_region[bare | trunk]):
        if not r:
            continue
        meta = PhoneMetadata.metadata_for_region(r)
        cc = str(phonenumbers.country_code_for_region(r))
        in_region = row_region == r
        at = np.flatnonzero(bare & in_region)
        v, _ = _fast_valid(int(cc), cleaned.iloc[at])
        number[at[v]] = cc + cleaned.iloc[at[v]].to_numpy(dtype=object)
        npp = meta.national_prefix_for_parsing if meta is not None else None
        plain = meta is not None and meta.national_prefix_transform_rule is None
        if plain and npp and npp.isdigit():
            at = np.flatnonzero(trunk & in_region & _contains(cleaned, f"^{npp}").to_numpy())
            nsn = cleaned.iloc[at].str.slice(len(npp))
            v, _ = _fast_valid(int(cc), nsn)
            number[at[v]] = cc + nsn[v].to_numpy(dtype=object)

    # 2. '+', '00' and still-unresolved bare digits as international numbers
    intl = plus | zeros | (bare & _isnone(number))
    at = np.flatnonzero(intl)
    if len(at):
        digits = cleaned.iloc[at].str.replace(r"^(?:\+|00)", "", regex=True)
        v, sure = _fast_international(digits)
        number[at[v]] = digits[v].to_numpy(dtype=object)
        # a sure "invalid" for an explicit international number needs no second opinion
        surely_bad = at[sure & ~v & ~bare[at]]
        reasons[surely_bad] = INVALID_NUMBER
    lengths = np.fromiter((len(x) if x else 0 for x in number), dtype=np.int64, count=n)
    number[(lengths > 0) & ((lengths < MIN_DIGITS) | (lengths > MAX_DIGITS))] = None

    # 3. everything else: phonenumbers itself, once per distinct (text, region)
    slow = np.flatnonzero((reasons == "") & _isnone(number))
    if len(slow):
        keys = pd.MultiIndex.from_arrays([text.iloc[slow].to_numpy(dtype=object), row_region[slow]])
        codes, uniques = pd.factorize(keys)
        answers = [text_to_number(t, r or None) for t, r in uniques]
        number[slow] = np.array([a for a, _ in answers] + [None], dtype=object)[codes]
        reasons[slow] = np.array([w or "" for _, w in answers] + [""], dtype=object)[codes]

    ready = ~_isnone(number)
    reasons[ready] = ""
    reasons[~ready & (reasons == "")] = INVALID_NUMBER
    return pd.DataFrame(
        {
            "number": pd.array(number, dtype=WORK_STRING),
            "state": pd.array(np.where(ready, READY, SKIPPED_INVALID), dtype=WORK_STRING),
            "reason": pd.array(reasons, dtype=WORK_STRING),
        },
        index=values.index,
    )


def _isnone(arr: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(arr), dtype=bool)
