"""Prices per segment by country or number prefix, read from what users have at hand.

``prices`` can be one number (the same price everywhere), a dict (``{"91": 0.0025,
"IN": 0.0025, "+1": 0.0079}``: calling codes or number prefixes, or ISO country codes), a
DataFrame, or a CSV file as providers' portals export their price lists: a column for the
prefix or country (``Prefix``, ``Country Code``, ``Dial Code``, ``MCC`` is *not* a prefix;
or ``ISO``/``Country`` with two-letter codes), one for the price (``Price``, ``Rate``,
``Cost``, ``Price per SMS``), and optionally ``Currency``.

A number gets the price of its **longest** matching prefix (``1212`` before ``1``).

>>> table = read_prices({"91": 0.0025, "US": "0.0079"})
>>> table.price_of(pd.Series(["919876543210", "12125550143", "447400123456"])).tolist()
[Decimal('0.0025'), Decimal('0.0079'), None]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import UsageError
from .message import WORK_STRING

_PREFIX_NAMES = ("prefix", "dial code", "dialing code", "calling code", "country code", "code")
_ISO_NAMES = ("iso", "iso code", "iso2", "country iso", "country")
_PRICE_NAMES = ("price", "rate", "cost", "price per sms", "price per segment", "sms price")
_CURRENCY_NAMES = ("currency", "ccy")


def money(value: Any) -> Decimal:
    """A non-negative finite price, or :class:`UsageError`."""
    try:
        d = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise UsageError(f"price {value!r} is not a number") from None
    if not d.is_finite() or d < 0:
        raise UsageError(f"price {value!r} must be a non-negative number")
    return d


@dataclass(frozen=True)
class PriceTable(Mapping[str, Decimal]):
    """Price per segment by number prefix (digits, e.g. ``"91"``, ``"1212"``), and the
    currency when the price list said it."""

    by_prefix: dict[str, Decimal]
    currency: str | None = None
    _lengths: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lengths = sorted({len(p) for p in self.by_prefix}, reverse=True)
        object.__setattr__(self, "_lengths", tuple(lengths))

    def __getitem__(self, key: str) -> Decimal:
        return self.by_prefix[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_prefix)

    def __len__(self) -> int:
        return len(self.by_prefix)

    def prefix_of(self, numbers: pd.Series) -> np.ndarray:
        """The longest priced prefix of each API-form number ("" when none), vectorised."""
        digits = numbers.astype(WORK_STRING).fillna("")
        out = np.full(len(digits), "", dtype=object)
        for n in self._lengths:
            head = digits.str.slice(0, n)
            hit = head.isin([p for p in self.by_prefix if len(p) == n]).to_numpy(
                dtype=bool, na_value=False
            ) & (out == "")
            out[hit] = head[hit].to_numpy(dtype=object)
        return out

    def price_of(self, numbers: pd.Series) -> pd.Series:
        """The price per segment of each number (``None`` when unpriced)."""
        prefixes = self.prefix_of(numbers)
        return pd.Series(
            [self.by_prefix.get(p) for p in prefixes], index=numbers.index, dtype=object
        )

    def to_setting(self) -> dict[str, str]:
        """JSON form (for the plan's settings and the ledger); read back by :func:`read_prices`."""
        out = {k: str(v) for k, v in self.by_prefix.items()}
        if self.currency:
            out["currency"] = self.currency
        return out


def read_prices(prices: Any) -> PriceTable | Decimal | None:
    """``prices`` as one :class:`~decimal.Decimal` (same everywhere) or a :class:`PriceTable`.

    Raises :class:`UsageError` (one line) for anything it cannot read.

    >>> read_prices(0.005)
    Decimal('0.005')
    >>> read_prices(pd.DataFrame({"Country": ["India"], "ISO": ["IN"], "Price": [0.0025],
    ...                           "Currency": ["EUR"]})).currency
    'EUR'
    """
    if prices is None:
        return None
    if isinstance(prices, PriceTable):
        return prices
    if isinstance(prices, Mapping):
        return _from_mapping(prices)
    if isinstance(prices, pd.DataFrame):
        return _from_frame(prices)
    if isinstance(prices, Path) or (
        isinstance(prices, str) and prices.strip().lower().endswith((".csv", ".txt"))
    ):
        return _from_csv(Path(prices))
    if isinstance(prices, bool) or not isinstance(prices, int | float | Decimal | str):
        raise UsageError(
            "prices must be a number, a {prefix or country: price} dict, a DataFrame or a "
            ".csv price list"
        )
    return money(prices)


def _prefix_of_key(key: Any) -> str:
    """A dict key as a number prefix: ``91``, ``"+91"``, ``"+1 212"`` or ``"IN"``."""
    text = str(key).strip()
    if re.fullmatch(r"[A-Za-z]{2}", text):
        import phonenumbers

        code = phonenumbers.country_code_for_region(text.upper())
        if not code:
            raise UsageError(f"prices: {key!r} is not a country code such as IN or US")
        return str(code)
    digits = re.sub(r"[\s()+-]", "", text).removeprefix("00")
    if not digits.isdigit():
        raise UsageError(
            f"prices key {key!r} is not a country calling code or number prefix such as 91, "
            "nor a country code such as IN"
        )
    return digits


def _from_mapping(prices: Mapping[Any, Any]) -> PriceTable:
    currency = None
    out: dict[str, Decimal] = {}
    for k, v in prices.items():
        if str(k).strip().lower() == "currency":
            currency = str(v).strip() or None
            continue
        out[_prefix_of_key(k)] = money(v)
    return PriceTable(out, currency)


def _pick(columns: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in columns:
            return columns[name]
    return None


def _from_frame(df: pd.DataFrame) -> PriceTable:
    columns = {str(c).strip().lower(): c for c in df.columns}
    price_col = _pick(columns, _PRICE_NAMES)
    if price_col is None:
        price_col = next((c for k, c in columns.items() if "price" in k or "rate" in k), None)
    if price_col is None:
        raise UsageError(
            "the price list has no price column (Price, Rate or Cost); columns are: "
            + ", ".join(map(str, df.columns))
        )
    prefix_col = _pick(columns, _PREFIX_NAMES)
    iso_col = _pick(columns, _ISO_NAMES)
    if prefix_col is None and iso_col is None:
        raise UsageError(
            "the price list has no prefix or country column (Prefix, Country Code, ISO); "
            "columns are: " + ", ".join(map(str, df.columns))
        )
    currency_col = _pick(columns, _CURRENCY_NAMES)
    out: dict[str, Decimal] = {}
    currencies: set[str] = set()
    for i, row in enumerate(df.itertuples(index=False)):
        record = dict(zip(df.columns, row, strict=True))
        price = record[price_col]
        if price is None or (isinstance(price, float) and np.isnan(price)):
            continue
        key = record[prefix_col] if prefix_col is not None else None
        if key is None or (isinstance(key, float) and np.isnan(key)) or str(key).strip() == "":
            key = record[iso_col] if iso_col is not None else None
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if key is None or str(key).strip() == "":
            raise UsageError(f"price list row {i + 1} has no prefix or country")
        out[_prefix_of_key(key)] = money(price)
        if currency_col is not None and isinstance(record[currency_col], str):
            currencies.add(record[currency_col].strip())
    if len(currencies) > 1:
        raise UsageError(f"the price list mixes currencies: {', '.join(sorted(currencies))}")
    return PriceTable(out, next(iter(currencies), None))


def _from_csv(path: Path) -> PriceTable:
    if not path.is_file():
        raise UsageError(f"price list {path} does not exist")
    try:
        df = pd.read_csv(path, sep=None, engine="python", dtype=str, encoding="utf-8-sig")
    except UnicodeDecodeError:
        df = pd.read_csv(path, sep=None, engine="python", dtype=str, encoding="cp1252")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UsageError(f"cannot read the price list {path}: {exc}") from None
    return _from_frame(df)
