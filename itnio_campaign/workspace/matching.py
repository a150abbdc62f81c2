"""Matching a plan's numbers against the history window: the caps and the repeat guard.

Pure array work, no database: the window's numbers are factorized once, every plan number
is looked up once, and each cap is then one ``bincount``; the repeat guard hashes only the
contents of rows whose number got an SMS inside the guard's window (a million plan rows,
a million window rows: about a tenth of a second each).

>>> window = RecentSends(np.array([91, 91, 92]), np.array([5, 6, 5]), np.array([10.0, 20.0, 30.0]))
>>> sent = window.lookup(np.array([91, 92, 93]))
>>> window.counts(sent, since=15.0).tolist()
[1, 1, 0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .caps import content_hashes


class RecentSends:
    """The history window: a row per SMS (``number``, ``content_hash``, ``sent_at``)."""

    def __init__(self, number: np.ndarray, content_hash: np.ndarray, sent_at: np.ndarray) -> None:
        self.codes, uniques = pd.factorize(number)
        self.numbers = pd.Index(uniques)
        self.content_hash = content_hash
        self.sent_at = sent_at

    def lookup(self, ints: np.ndarray) -> np.ndarray:
        """Per plan number, its index among the window's numbers (``-1``: none sent)."""
        return np.asarray(self.numbers.get_indexer(ints))

    def counts(self, where: np.ndarray, since: float) -> np.ndarray:
        """Per plan row (``where`` from :meth:`lookup`), the SMS it got since ``since``."""
        recent = self.codes[self.sent_at >= since]
        per_number = np.bincount(recent, minlength=len(self.numbers) + 1)
        return per_number[where]  # -1 picks the extra last bin: always 0

    def repeats(
        self, where: np.ndarray, contents: pd.Series, rows: np.ndarray, since: float
    ) -> np.ndarray:
        """Per plan row in ``rows`` (a mask), when it last got its own content since
        ``since`` (``NaN``: not in that time)."""
        keep = (self.sent_at >= since) & (self.content_hash != 0)
        got = np.zeros(len(self.numbers) + 1, dtype=bool)
        got[self.codes[keep]] = True
        at = np.flatnonzero(rows & got[where])  # only these rows' contents are hashed
        when = np.full(len(where), np.nan)
        if not len(at):
            return when
        last = (
            pd.DataFrame({"n": self.codes[keep], "h": self.content_hash[keep],
                          "t": self.sent_at[keep]})
            .groupby(["n", "h"], sort=False)["t"].max()
        )  # fmt: skip
        hashes = content_hashes(pd.Series(contents, copy=False).iloc[at])
        pairs = pd.MultiIndex.from_arrays([where[at], hashes])
        when[at] = last.reindex(pairs).to_numpy(dtype=np.float64)
        return when
