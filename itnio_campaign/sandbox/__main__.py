"""``python -m itnio_campaign.sandbox``: serve the sandbox until Ctrl-C.

>>> main(["--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal, InvalidOperation

from .knobs import ENDPOINTS
from .server import Sandbox


def _fault_rate(text: str) -> tuple[str, float]:
    name, sep, rate = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NAME=P, e.g. http_503=0.01, got {text!r}"
        ) from None


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="itnio-campaign sandbox",
        description="Serve a local Itniotech-compatible SMS API (loopback by default).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    p.add_argument("--seed", type=int, default=0, help="seed for ids, delivery and faults")
    p.add_argument("--balance", type=_decimal, default=Decimal("1000"), help="starting balance")
    p.add_argument("--price", type=_decimal, default=Decimal("0.005"), help="price per segment")
    p.add_argument("--undelivered-rate", type=float, default=0.03)
    p.add_argument("--reply-rate", type=float, default=0.02)
    p.add_argument(
        "--max-rps",
        type=float,
        default=None,
        help="requests per second before -15 (default: unlimited)",
    )
    p.add_argument(
        "--fault-rate",
        type=_fault_rate,
        action="append",
        default=[],
        metavar="NAME=P",
        help="random fault, e.g. http_503=0.01 or drop_after_accept=0.005 (repeatable)",
    )
    p.add_argument(
        "--redirect-to",
        default=None,
        metavar="URL",
        help="Location of the redirect_3xx faults (default: a refused loopback port)",
    )
    p.add_argument(
        "--fault-endpoint",
        action="append",
        choices=ENDPOINTS,
        default=None,
        help="limit random faults to these endpoints (repeatable)",
    )
    return p


async def _serve(sandbox: Sandbox) -> None:
    async with sandbox:
        creds = sandbox.credentials
        print(f"Itniotech sandbox serving {sandbox.url}", flush=True)
        print(f"  ITNIO_BASE_URL={creds.base_url}")
        print(f"  ITNIO_API_KEY={sandbox.knobs.api_key}")
        print(f"  ITNIO_API_SECRET={sandbox.knobs.api_secret}  (demo secret, not a real one)")
        print(f"  ITNIO_APP_ID={creds.app_id}")
        print("Ctrl-C to stop.", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, serve until interrupted; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        sandbox = Sandbox(
            host=args.host,
            port=args.port,
            latency=args.latency,
            seed=args.seed,
            balance=args.balance,
            price_per_segment=args.price,
            undelivered_rate=args.undelivered_rate,
            reply_rate=args.reply_rate,
            max_requests_per_second=args.max_rps,
            fault_rates=dict(args.fault_rate),
            fault_endpoints=args.fault_endpoint,
            **({} if args.redirect_to is None else {"redirect_to": args.redirect_to}),
        )
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(sandbox))
    except KeyboardInterrupt:
        print("sandbox stopped", flush=True)
    except OSError as exc:  # e.g. port in use
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
