"""The campaign ledger: one SQLite file that lets a campaign survive a crash without double sends.

- :mod:`.store`: :class:`Ledger`, the tables and the journal (what is stored, when),
- :mod:`.lockfile`: the file on disk (one writer by file identity, connection, checks),
- :mod:`.codecs`: the encoder/decoder pairs for requests, accepted numbers and frames.

>>> with Ledger.open("spring-promo.sqlite") as ledger:           # doctest: +SKIP
...     ledger.status, len(ledger.outcomes())
('completed', 1000)
"""

from ..errors import LedgerError
from .codecs import (
    decode_accepted,
    decode_batches,
    decode_frame,
    encode_accepted,
    encode_batches,
    encode_frame,
)
from .lockfile import APP_NAME, APPLICATION_ID, SCHEMA_VERSION, check_ledger_file
from .store import (
    IN_FLIGHT_CODE,
    IN_FLIGHT_REASON,
    Ledger,
    Reconciliation,
    _in_flight_outcome,
    in_flight_outcome,
)

__all__ = [
    "APPLICATION_ID",
    "APP_NAME",
    "IN_FLIGHT_CODE",
    "IN_FLIGHT_REASON",
    "SCHEMA_VERSION",
    "Ledger",
    "LedgerError",
    "Reconciliation",
    "_in_flight_outcome",
    "check_ledger_file",
    "decode_accepted",
    "decode_batches",
    "decode_frame",
    "encode_accepted",
    "encode_batches",
    "encode_frame",
    "in_flight_outcome",
]
