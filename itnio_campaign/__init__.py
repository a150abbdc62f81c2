"""itnio-campaign: bulk SMS campaigns through the Itniotech SMS API, from Jupyter."""

from .config import ClientSettings, Credentials, RetryPolicy, Timeouts

__all__ = ["ClientSettings", "Credentials", "RetryPolicy", "Timeouts"]
__version__ = "0.1.0"
