"""Smart encoding: replace characters that have a GSM-7 look-alike so a message stays GSM-7.

One typographic apostrophe (``’``, pasted from Word) switches a whole SMS to UCS-2: 70
characters a segment instead of 160, often twice the bill. :data:`REPLACEMENTS` maps such
characters to their GSM-7 equivalent.

The table follows Twilio's published smart-encoding list
(https://www.twilio.com/docs/messaging/services/smart-encoding-char-list) and Sinch's
auto-encoding table (https://developers.sinch.com/docs/sms/resources/message-info/auto-encoding):
typographic and fullwidth quotes and apostrophes, modifier-letter primes and accents, dashes and
the minus sign, the ellipsis, special spaces, angle brackets, fullwidth punctuation.
Where it differs, and why:

* **Bullets** (``•``, ``‣``, ``◦``, ``⁃``, ``∙``) become ``-`` (not in Twilio's list): lists
  pasted from documents are a common cause of UCS-2.
* **Invisible characters** (zero-width space and joiners outside emoji, word joiner, BOM,
  soft hyphen) are removed: they cost a whole encoding switch and show nothing. Twilio's list
  maps only visible characters.
* **Letters are never transliterated** (``ë`` stays ``ë``): a customer's name is not ours to
  change. Twilio and Sinch do the same in their lists.
* **A replacement never costs more.** A message is changed only when the replaced message is
  GSM-7 *and* needs no more segments than the original (``…`` becomes three characters, so a
  text of many ellipses could grow). Messages that stay UCS-2 anyway (emoji, Devanagari, ...)
  are sent exactly as written. Sinch converts only messages longer than one part; we convert
  whenever it pays, so the dry run's numbers are what is sent.

>>> smart_encode("Don’t miss it — 20% off…")
"Don't miss it - 20% off..."
>>> apply_smart_encoding("Don’t 😀")        # stays UCS-2 anyway: unchanged
'Don’t 😀'
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from .message import GSM7_BASIC, GSM7_EXTENSION, count_segments_cached

_DOUBLE = (
    "\u00ab\u00bb\u201c\u201d\u02ba\u02ee\u201f\u275d\u275e\u301d\u301e\uff02\u201e\u2033\u2036"
)
_SINGLE = (
    "\u2018\u2019\u02bb\u02c8\u02bc\u02bd\u02b9\u201b\uff07\u00b4\u02ca\u0060\u02cb\u275b\u275c"
    "\u201a\u2032\u2035\u2039\u203a"
)
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe63\uff0d\ufe58"
_SPACES = (
    "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"
    "\u3000\u2028\u2029"
)
_BULLETS = "\u2022\u2023\u25e6\u2043\u2219"
_INVISIBLE = "\u200b\u2060\ufeff\u00ad"

#: Character → GSM-7 replacement ("" removes it). See the module docstring for the sources.
REPLACEMENTS: dict[str, str] = {
    **dict.fromkeys(_DOUBLE, '"'),
    **dict.fromkeys(_SINGLE, "'"),
    **dict.fromkeys(_DASHES, "-"),
    **dict.fromkeys(_SPACES, " "),
    **dict.fromkeys(_BULLETS, "-"),
    **dict.fromkeys(_INVISIBLE, ""),
    "\u2026": "...",  # horizontal ellipsis
    "\u2024": ".",  # one dot leader
    "\uff0e": ".",
    "\uff0c": ",",
    "\u201a": "'",
    "\uff1a": ":",
    "\u02d0": ":",
    "\uff1b": ";",
    "\u037e": ";",
    "\u204f": ";",
    "\uff01": "!",
    "\uff1f": "?",
    "\u02c2": "<",
    "\u3008": "<",
    "\u02c3": ">",
    "\u3009": ">",
    "\u02d6": "+",
    "\uff0b": "+",
    "\uff08": "(",
    "\uff09": ")",
    "\u2044": "/",
    "\u2215": "/",
    "\uff0f": "/",
    "\uff05": "%",
    "\uff06": "&",
    "\uff03": "#",
    "\uff0a": "*",
    "\uff1d": "=",
    "\u02dc": "~",
}
_TABLE = str.maketrans(REPLACEMENTS)
_GSM = frozenset(GSM7_BASIC) | frozenset(GSM7_EXTENSION)
#: Matches any character :data:`REPLACEMENTS` knows (Python ``re`` and pyarrow RE2 alike).
REPLACEABLE_CLASS = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in REPLACEMENTS) + "]"
_REPLACEABLE = re.compile("[" + "".join(re.escape(c) for c in REPLACEMENTS) + "]")

assert all(c in _GSM for r in REPLACEMENTS.values() for c in r)


def smart_encode(text: str) -> str:
    """``text`` with every character of :data:`REPLACEMENTS` replaced (unconditionally).

    >>> smart_encode("“Hi”\u00a0there")
    '"Hi" there'
    """
    return text.translate(_TABLE)


def apply_smart_encoding(text: str) -> str:
    """What smart encoding sends for ``text``: the replaced text when it is GSM-7 and needs
    no more segments than ``text``, else ``text`` unchanged.

    >>> apply_smart_encoding("It’s on"), apply_smart_encoding("plain")
    ("It's on", 'plain')
    """
    if not _REPLACEABLE.search(text):
        return text
    replaced = text.translate(_TABLE)
    enc, seg = count_segments_cached(replaced)
    if enc != "GSM-7" or seg > count_segments_cached(text)[1]:
        return text
    return replaced


def apply_smart_encoding_array(texts: pd.Series) -> np.ndarray:
    """:func:`apply_smart_encoding` of each text (distinct texts, no missing values), as an
    object array; only the texts holding a replaceable character are looked at one by one."""
    out = texts.to_numpy(dtype=object).copy()
    if len(texts) == 0:
        return out
    hit = texts.astype("string").str.contains(REPLACEABLE_CLASS, regex=True)
    for i in np.flatnonzero(hit.to_numpy(dtype=bool, na_value=False)):
        out[i] = apply_smart_encoding(str(out[i]))
    return out


def ucs2_chars(text: str) -> str:
    """The characters of ``text`` that are not GSM-7 (each once, in order): the ones that
    force the whole message to UCS-2. ``""`` for GSM-7 text.

    >>> ucs2_chars("Zoë’s 😀 ’")
    'ë’😀'
    """
    return "".join(dict.fromkeys(c for c in text if c not in _GSM))


def char_name(char: str) -> str:
    """A character's Unicode name (``RIGHT SINGLE QUOTATION MARK``), or its code point.

    >>> char_name("’"), char_name("\\ue000")
    ('RIGHT SINGLE QUOTATION MARK', 'U+E000')
    """
    return unicodedata.name(char, f"U+{ord(char):04X}")


def replacement_for(char: str) -> str | None:
    """The GSM-7 replacement smart encoding uses for ``char`` (``None``: it has none)."""
    return REPLACEMENTS.get(char)
