"""Credentials and client settings: small frozen objects with named defaults.

The API key and secret come from arguments, ``ITNIO_*`` environment variables or a ``.env``
file. They never appear in a ``repr``/``str``: only :meth:`Credentials.sign` uses them.

>>> creds = Credentials("key", "secret", "app1", base_url="http://127.0.0.1:8080/sms")
>>> creds
Credentials(app_id='app1', base_url='http://127.0.0.1:8080/sms', api_key=***, api_secret=***)
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

# The provider's request limits are defined in models.py; re-exported here for old imports.
from .models import MAX_CONTENT_CHARS as MAX_CONTENT_CHARS
from .models import MAX_MO_PAGE_SIZE as MAX_MO_PAGE_SIZE
from .models import MAX_NUMBERS_GET as MAX_NUMBERS_GET
from .models import MAX_NUMBERS_POST as MAX_NUMBERS_POST
from .models import MAX_REPORT_IDS as MAX_REPORT_IDS
from .models import MAX_SENDER_ID_CHARS as MAX_SENDER_ID_CHARS
from .models import MAX_WINDOW_DAYS as MAX_WINDOW_DAYS

DEFAULT_BASE_URL = "https://api.itniotech.com/sms"

ENV_API_KEY = "ITNIO_API_KEY"
ENV_API_SECRET = "ITNIO_API_SECRET"
ENV_APP_ID = "ITNIO_APP_ID"
ENV_BASE_URL = "ITNIO_BASE_URL"


# Retry/backoff defaults (min(0.5·2ⁿ, 8 s) with jitter, Retry-After capped).
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_MAX = 8.0
DEFAULT_RETRY_AFTER_CAP = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0


#: Setting names that may hold a credential; such settings are never stored or reported.
_SECRET_NAME = re.compile(r"secret|key|password|passwd|token|sign|credential", re.I)


def public_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` without credentials, at any depth: the ledger and the report store this.

    Keys that look like a credential and :class:`Credentials` values are dropped.

    >>> public_settings({"concurrency": 8, "api_key": "k", "nested": {"Token": "t", "n": 1}})
    {'concurrency': 8, 'nested': {'n': 1}}
    """

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                str(k): clean(v)
                for k, v in value.items()
                if not _SECRET_NAME.search(str(k)) and not isinstance(v, Credentials)
            }
        if isinstance(value, list | tuple):
            return [clean(v) for v in value if not isinstance(v, Credentials)]
        return value

    cleaned: dict[str, Any] = clean(settings)
    return cleaned


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Return ``url`` without a trailing slash; refuse plain http to non-loopback hosts."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: the API key would travel unencrypted; "
            "use https:// (plain http is allowed only for loopback, e.g. the sandbox)"
        )
    return url.rstrip("/")


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional quotes/``export``."""
    values: dict[str, str] = {}
    p = Path(path)
    if not p.is_file():
        return values
    for raw in p.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@dataclass(frozen=True, repr=False)
class Credentials:
    """What the API needs to authenticate a request.

    >>> Credentials("k", "s", "app", base_url="https://example.test/sms").app_id
    'app'
    """

    api_key: str
    api_secret: str
    app_id: str
    base_url: str = DEFAULT_BASE_URL

    def __post_init__(self) -> None:
        missing = [
            name
            for name, value in (
                ("api_key", self.api_key),
                ("api_secret", self.api_secret),
                ("app_id", self.app_id),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"missing credentials: {', '.join(missing)}")
        object.__setattr__(self, "base_url", check_base_url(self.base_url))

    @classmethod
    def from_env(
        cls,
        env_file: str | os.PathLike[str] | None = ".env",
        environ: Mapping[str, str] | None = None,
        **overrides: str,
    ) -> Credentials:
        """Read ``ITNIO_API_KEY``, ``ITNIO_API_SECRET``, ``ITNIO_APP_ID``, ``ITNIO_BASE_URL``.

        Environment variables win over the ``.env`` file; keyword arguments win over both.
        One :class:`ConfigError` names everything that is missing.

        >>> Credentials.from_env(None, {"ITNIO_API_KEY": "k", "ITNIO_API_SECRET": "s",
        ...                              "ITNIO_APP_ID": "a"}).app_id
        'a'
        """
        env = dict(read_env_file(env_file)) if env_file is not None else {}
        env.update(os.environ if environ is None else environ)
        names = {
            "api_key": ENV_API_KEY,
            "api_secret": ENV_API_SECRET,
            "app_id": ENV_APP_ID,
            "base_url": ENV_BASE_URL,
        }
        values = {arg: overrides.get(arg) or env.get(var, "") for arg, var in names.items()}
        missing = [names[arg] for arg in ("api_key", "api_secret", "app_id") if not values[arg]]
        if missing:
            where = f" or in {env_file}" if env_file is not None else ""
            raise ConfigError(
                f"missing credentials: set {', '.join(missing)} in the environment{where}"
            )
        base_url = values.pop("base_url") or DEFAULT_BASE_URL
        return cls(base_url=base_url, **values)

    def sign(self, timestamp: int) -> str:
        """``md5_hex(api_key + api_secret + timestamp)``, as the provider documents."""
        raw = f"{self.api_key}{self.api_secret}{timestamp}".encode()
        return hashlib.md5(raw, usedforsecurity=False).hexdigest()

    def headers(self, timestamp: int) -> dict[str, str]:
        """The authentication headers for one attempt (sign each attempt afresh)."""
        return {
            "Content-Type": "application/json;charset=UTF-8",
            "Api-Key": self.api_key,
            "Timestamp": str(timestamp),
            "Sign": self.sign(timestamp),
        }

    def __repr__(self) -> str:
        return (
            f"Credentials(app_id={self.app_id!r}, base_url={self.base_url!r}, "
            "api_key=***, api_secret=***)"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying a request that provably was not accepted.

    >>> RetryPolicy(max_attempts=2).backoff(1, jitter=0.0)
    0.5
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_max: float = DEFAULT_BACKOFF_MAX
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")

    def backoff(self, attempt: int, jitter: float) -> float:
        """Delay after failed attempt number ``attempt`` (1-based); ``jitter`` in [0, 1)."""
        delay = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
        return delay * (1 - 0.25 * jitter)

    def retry_after(self, header: str | None, attempt: int, jitter: float) -> float:
        """Honour a numeric ``Retry-After`` up to the cap, else fall back to backoff."""
        if header:
            try:
                return max(0.0, min(float(header), self.retry_after_cap))
            except ValueError:
                pass
        return self.backoff(attempt, jitter)


@dataclass(frozen=True)
class Timeouts:
    """Connect and whole-request timeouts in seconds."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT


@dataclass(frozen=True)
class ClientSettings:
    """Everything about how :class:`~itnio_campaign.client.AsyncClient` talks to the API."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_connections: int = 32
