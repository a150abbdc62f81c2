"""Reply keywords: which replies opt a number out, which opt it back in, which need a human.

A reply that *is* a keyword (case, spaces, punctuation and accents ignored: ``" Stop. "``,
``"arrêt"``) is applied at once. A reply that only *contains* one inside a longer sentence
("please stop sending me this bill") is neither dropped nor applied: it goes to the review
list, because "stop" in a sentence may or may not be a request to opt out.

    >>> kw = Keywords.for_languages("fr", "es")
    >>> kw.classify(" Stop. "), kw.classify("ARRÊT"), kw.classify("baja")
    ('opt_out', 'opt_out', 'opt_out')
    >>> kw.classify("start"), kw.classify("please stop sending me this bill")
    ('opt_in', 'review')
    >>> kw.classify("thanks!")
    ''
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..errors import UsageError

#: Replies that opt a number out (the carriers' and CTIA's standard words).
OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
#: Replies that opt a number back in.
OPT_IN = ("START", "UNSTOP")
#: Extra opt-out words per language (ISO 639-1 code), added with ``Keywords.for_languages``.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "fr": ("ARRET", "ARRETER", "DESABONNER", "DESINSCRIRE"),
    "es": ("BAJA", "ALTO", "PARAR", "CANCELAR", "DETENER"),
    "pt": ("PARAR", "SAIR", "CANCELAR", "DESCADASTRAR"),
    "de": ("STOPP", "ABMELDEN", "KUENDIGEN", "ABBESTELLEN"),
    "it": ("BASTA", "ANNULLA", "DISISCRIVI"),
    "hi": ("BAND", "RUKO"),
}
#: Extra opt-in words per language.
LANGUAGES_OPT_IN: dict[str, tuple[str, ...]] = {
    "fr": ("DEMARRER",),
    "es": ("ALTA", "INICIAR"),
    "pt": ("INICIAR",),
    "de": ("ANMELDEN",),
}

Action = Literal["opt_out", "opt_in", "review", ""]
_TRIM = string.whitespace + string.punctuation
_WORD = re.compile(r"[^\W\d_]+")


def fold(text: str) -> str:
    """``text`` compared as a keyword: case-folded, accents removed, punctuation trimmed."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.strip(_TRIM)


@dataclass(frozen=True)
class Keywords:
    """The opt-out and opt-in words a workspace applies to replies (stored folded).

    >>> Keywords(opt_out=("STOP", "ARRET")).classify("Arrêt!")
    'opt_out'
    """

    opt_out: tuple[str, ...] = OPT_OUT
    opt_in: tuple[str, ...] = OPT_IN

    def __post_init__(self) -> None:
        for name in ("opt_out", "opt_in"):
            words = getattr(self, name)
            if isinstance(words, str):
                words = (words,)
            folded = tuple(dict.fromkeys(fold(w) for w in words))
            if not folded or not all(folded) or any(" " in w for w in folded):
                raise UsageError(f"keywords {name} must be single non-empty words, got {words!r}")
            object.__setattr__(self, name, folded)
        both = set(self.opt_out) & set(self.opt_in)
        if both:
            raise UsageError(f"a keyword cannot both opt out and opt in: {sorted(both)}")

    @classmethod
    def for_languages(cls, *languages: str, extra: Iterable[str] = ()) -> Keywords:
        """The standard words plus those of ``languages`` (``"fr"``, ``"es"``, ...)."""
        unknown = [lang for lang in languages if lang not in LANGUAGES]
        if unknown:
            raise UsageError(f"no keyword list for {unknown}; known: {sorted(LANGUAGES)}")
        out = [*OPT_OUT, *(w for lang in languages for w in LANGUAGES[lang]), *extra]
        ins = [*OPT_IN, *(w for lang in languages for w in LANGUAGES_OPT_IN.get(lang, ()))]
        return cls(tuple(out), tuple(ins))

    def classify(self, text: str) -> Action:
        """What a reply means: ``opt_out``/``opt_in`` (the whole reply is a keyword),
        ``review`` (a keyword inside a longer text), or ``""`` (nothing to do)."""
        word = fold(text)
        if word in self.opt_out:
            return "opt_out"
        if word in self.opt_in:
            return "opt_in"
        if self.keyword_in(text):
            return "review"
        return ""

    def keyword_in(self, text: str) -> str:
        """The first keyword found as a word inside ``text`` ("" if none), upper case."""
        for word in _WORD.findall(fold(text)):
            if word in self.opt_out or word in self.opt_in:
                return word.upper()
        return ""
