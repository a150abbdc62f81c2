"""Run every benchmark and print one markdown table plus the machine it ran on.

    python benchmarks/run.py            # full sizes (1,000,000 rows where the issue says so)
    python benchmarks/run.py --quick    # smaller sizes, a minute or two

A benchmark module that is missing or fails is reported as "not available" (with the
reason), never silently dropped.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: module -> keyword arguments for --quick (full runs use each module's defaults).
BENCHMARKS: dict[str, dict[str, Any]] = {
    "bench_plan": {"n": 100_000},
    "bench_send": {"n_cpu": 100_000, "n_wall": 20_000, "n_rss": 100_000},
    "bench_ledger": {"n": 100_000},
    "bench_excel": {"n": 20_000},
    "bench_workspace": {"scale": 0.05},
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> list[tuple[str, str]]:
    def version(name: str) -> str:
        try:
            return str(importlib.import_module(name).__version__)
        except ImportError:
            return "not installed"

    return [
        ("CPU", cpu_model()),
        ("cores", str(os.cpu_count())),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("pandas", version("pandas")),
        ("pyarrow", version("pyarrow")),
        ("aiohttp", version("aiohttp")),
    ]


def run_one(name: str, quick: bool) -> tuple[list[dict[str, Any]], float]:
    start = time.perf_counter()
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        return [{"name": "not available", "value": "", "unit": f"({exc})"}], 0.0
    try:
        rows = module.run(**BENCHMARKS[name]) if quick else module.run()
    except Exception as exc:  # report and carry on with the other benchmarks
        traceback.print_exc()
        rows = [{"name": "failed", "value": "", "unit": f"({type(exc).__name__}: {exc})"}]
    return rows, time.perf_counter() - start


def markdown(results: dict[str, tuple[list[dict[str, Any]], float]]) -> str:
    lines = ["| benchmark | measurement | value | unit |", "|---|---|---:|---|"]
    for name, (rows, _) in results.items():
        for row in rows:
            lines.append(f"| {name} | {row['name']} | {row['value']} | {row['unit']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        help="run only this benchmark (repeatable)",
    )
    args = parser.parse_args(argv)
    results = {}
    for name in args.only or BENCHMARKS:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = run_one(name, args.quick)
        print(f"  {name} took {results[name][1]:.1f} s", file=sys.stderr, flush=True)
    print(f"## Benchmarks ({'quick' if args.quick else 'full'} sizes)\n")
    print(markdown(results))
    print("\nMachine:\n")
    for key, value in machine():
        print(f"- {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
