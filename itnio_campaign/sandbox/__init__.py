"""A local, Itniotech-compatible SMS API server with fault injection.

For tests, the demo and rehearsals: the same six endpoints under ``/sms``, the same
signing and status codes, simulated delivery and replies, and scripted or random faults.

>>> from itnio_campaign.sandbox import SandboxThread
>>> with SandboxThread(seed=1, balance="10") as sb:
...     sb.inject("sendSms", "http_503")
...     str(sb.balance)
'10'
"""

from .faults import Fault, parse_fault
from .knobs import DEMO_API_KEY, DEMO_API_SECRET, DEMO_APP_ID, Knobs
from .server import RequestRecord, Sandbox
from .store import AcceptedMessage, AcceptedView
from .thread import SandboxThread

__all__ = [
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "DEMO_APP_ID",
    "AcceptedMessage",
    "AcceptedView",
    "Fault",
    "Knobs",
    "RequestRecord",
    "Sandbox",
    "SandboxThread",
    "parse_fault",
]
