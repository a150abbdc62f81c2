"""The provider's rules for one ``sendSms`` request (or one ``sendSms/batch`` item).

Checks, in order, and the status each failure answers (the whole request is refused):

====  ===========================================================================
-22   a field of the wrong type (``numbers`` as a JSON list or int, ...)
-8    ``numbers`` missing or empty
-4    ``content`` missing or empty
-7    more numbers than the limit (1000 POST, 100 GET)
-9    a character other than digits, commas and spaces in ``numbers`` (or an empty entry)
-5    ``content`` longer than 1024 characters
-22   ``senderId`` longer than 32 characters (undocumented: the sandbox's choice)
-22   ``orderId`` count differs from the numbers count (undocumented: the sandbox's choice)
-3    a sensitive word in ``content`` (case-insensitive)
-6    ``templates`` configured and ``content`` fully matches none of them
-19   a number starts with one of ``unpriced_prefixes``
-3/-6/-19  ``content`` contains words of ``refuse_content`` (checked after ``sensitive_words``)
====  ===========================================================================

Then each number is checked alone: a length outside ``number_length`` or an
``invalid_prefixes`` match makes just that number fail (``fail`` count, not in ``array``).

>>> rules = Rules(Knobs())
>>> item = rules.item({"numbers": "919876543210,12", "content": "Hi"}, max_numbers=1000)
>>> item.numbers, item.invalid
(['919876543210'], 1)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..message import count_segments_cached
from .knobs import REFUSAL_REASONS, Knobs


class Reject(Exception):
    """The request is refused with API ``status`` ``code``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One content to many numbers, checked; ``numbers`` holds only the valid ones."""

    content: str
    sender_id: str | None
    numbers: list[str]
    order_ids: list[str | None]
    invalid: int  # per-number failures
    encoding: str
    segments: int

    @property
    def total(self) -> int:
        return len(self.numbers) + self.invalid


def _text(fields: Mapping[str, object], name: str, where: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Reject("-22", f"{where}{name} must be a string, got {type(value).__name__}")
    return value


class Rules:
    """Checks request items against the knobs."""

    def __init__(self, knobs: Knobs) -> None:
        self._k = knobs
        self._sensitive = tuple(w.casefold() for w in knobs.sensitive_words if w)
        self._templates = (
            None
            if knobs.templates is None
            else tuple(re.compile(p, re.DOTALL) for p in knobs.templates)
        )

    def item(self, fields: Mapping[str, object], max_numbers: int, where: str = "") -> ParsedItem:
        """Check one item; raise :class:`Reject` for a whole-request failure."""
        k = self._k
        numbers_field = _text(fields, "numbers", where)
        content = _text(fields, "content", where)
        sender_id = _text(fields, "senderId", where) or None
        order_field = _text(fields, "orderId", where) or None
        if not numbers_field or not numbers_field.strip():
            raise Reject("-8", f"{where}numbers is empty")
        if not content:
            raise Reject("-4", f"{where}content is empty")
        tokens = numbers_field.split(",")
        if len(tokens) > max_numbers:
            raise Reject("-7", f"{where}{len(tokens)} numbers, at most {max_numbers} allowed")
        if " " in numbers_field or "\t" in numbers_field:
            tokens = [t.strip() for t in tokens]
        joined = "".join(tokens)
        if not (joined.isascii() and joined.isdigit()) or "" in tokens:
            bad = next(t for t in tokens if not (t.isascii() and t.isdigit()))
            raise Reject("-9", f"{where}abnormal phone number {bad[:20]!r}")
        if len(content) > k.max_content_chars:
            raise Reject(
                "-5", f"{where}content has {len(content)} characters, at most {k.max_content_chars}"
            )
        if sender_id is not None and len(sender_id) > k.max_sender_id_chars:
            raise Reject("-22", f"{where}senderId longer than {k.max_sender_id_chars} characters")
        order_ids: list[str | None]
        if order_field is None:
            order_ids = [None] * len(tokens)
        else:
            order_ids = [o.strip() for o in order_field.split(",")]
            if len(order_ids) != len(tokens):
                raise Reject("-22", f"{where}{len(order_ids)} orderIds for {len(tokens)} numbers")
        folded = content.casefold()
        for word in self._sensitive:
            if word in folded:
                raise Reject("-3", f"{where}sensitive word {word!r} in content")
        for words, code in k.refuse_content.items():
            if words.casefold() in folded:
                raise Reject(code, f"{where}{REFUSAL_REASONS[code]} ({words!r}, refuse_content)")
        if self._templates is not None and not any(t.fullmatch(content) for t in self._templates):
            raise Reject("-6", f"{where}content is not an approved template")
        if k.unpriced_prefixes:
            for t in tokens:
                if t.startswith(k.unpriced_prefixes):
                    raise Reject("-19", f"{where}pricing not confirmed for {t}")
        lo, hi = k.number_length
        bad_prefixes = k.invalid_prefixes
        valid = [lo <= len(t) <= hi and not t.startswith(bad_prefixes) for t in tokens]
        if all(valid):
            numbers, kept_ids = tokens, order_ids
        else:
            numbers = [t for t, ok in zip(tokens, valid, strict=True) if ok]
            kept_ids = [o for o, ok in zip(order_ids, valid, strict=True) if ok]
        encoding, segments = count_segments_cached(content)
        return ParsedItem(
            content=content,
            sender_id=sender_id,
            numbers=numbers,
            order_ids=kept_ids,
            invalid=len(tokens) - len(numbers),
            encoding=encoding,
            segments=segments,
        )
