"""Benchmark: plan a 1,000,000-row campaign (mixed number formats, two placeholders).

Each measurement runs in a fresh subprocess so peak memory (``ru_maxrss``) is its own.
Strings are measured twice: pandas' default ``str`` dtype (pyarrow-backed when pyarrow is
installed) and plain Python objects (``pd.options.future.infer_string = False`` and
``mode.string_storage = "python"``).

    python benchmarks/bench_plan.py            # 1,000,000 rows
    python benchmarks/bench_plan.py 200000     # fewer
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 10.0
TEMPLATE = "Hi {first_name}, 20% off today at {store}!"
#: The smart-encoding run: a typographic apostrophe makes every message UCS-2 as written.
SMART_TEMPLATE = "Hi {first_name}, 20% off today at {store}, don’t miss it!"

FIRST_NAMES = [
    "Aarav",
    "Vivaan",
    "Aditya",
    "Vihaan",
    "Arjun",
    "Sai",
    "Reyansh",
    "Ayaan",
    "Krishna",
    "Ishaan",
    "Diya",
    "Ananya",
    "Aadhya",
    "Saanvi",
    "Pari",
    "Anika",
    "Navya",
    "Myra",
    "Riya",
    "Priya",
    "Rahul",
    "Amit",
    "Sneha",
    "Pooja",
    "Neha",
    "Vikram",
    "Karan",
    "Meera",
    "Zoë",
    "Łukasz",
    "राहुल",
    "प्रिया",
    "محمد",
    "فاطمة",
    "John",
    "Emma",
    "Oliver",
    "Ava",
    "Lukas",
    "Mia",
    "João",
    "Chinedu",
    "Ngozi",
    "Sam 😀",
]
STORES = [f"Store #{i}" for i in range(1, 41)] + ["Connaught Place", "MG Road", "Bandra West"]


def make_frame(n: int, seed: int = 7) -> Any:
    """A contact frame of ``n`` rows: phone (mixed formats), first_name, store."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    body = rng.integers(0, 10**9, n).astype(str)
    body = pd.Series(body).str.zfill(9)
    lead = pd.Series(rng.choice(list("6789"), n))
    mobile = lead + body  # 10-digit Indian mobile
    fmt = rng.choice(10, n, p=[0.30, 0.15, 0.10, 0.10, 0.10, 0.05, 0.05, 0.05, 0.05, 0.05])
    phone = pd.Series("", index=range(n), dtype=object)
    forms = {
        0: "+91 " + mobile.str.slice(0, 5) + " " + mobile.str.slice(5),
        1: mobile,
        2: "91" + mobile + ".0",
        3: "0091-" + mobile,
        4: "0" + mobile,
        5: "(+91) "
        + mobile.str.slice(0, 3)
        + "-"
        + mobile.str.slice(3, 6)
        + "-"
        + mobile.str.slice(6),
        6: "+1 (212) 4" + body.str.slice(0, 2) + "-" + body.str.slice(2, 6),
        7: "+44 7400 " + body.str.slice(0, 6),
        8: "9.18563e+11",
        9: "+91 " + mobile.str.slice(0, 4),
    }
    for k, s in forms.items():
        m = fmt == k
        phone[m] = s[m] if isinstance(s, pd.Series) else s
    blanks = rng.random(n) < 0.01
    phone[blanks] = None
    names = pd.Series(rng.choice(FIRST_NAMES, n), dtype=object)
    names[rng.random(n) < 0.01] = None
    stores = pd.Series(rng.choice(STORES, n), dtype=object)
    return pd.DataFrame({"phone": phone, "first_name": names, "store": stores})


def _measure(n: int, arrow: bool, smart: bool | None = None) -> dict[str, Any]:
    """Runs inside the subprocess."""
    import resource
    import time

    import pandas as pd

    if not arrow:
        pd.set_option("future.infer_string", False)
        pd.set_option("mode.string_storage", "python")
    sys.path.insert(0, str(ROOT))
    from itnio_campaign.plan import plan_campaign

    df = make_frame(n)
    if arrow:
        df = df.astype({"phone": "str", "first_name": "str", "store": "str"})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    plan = plan_campaign(
        df,
        number_col="phone",
        content=SMART_TEMPLATE if smart is not None else TEMPLATE,
        prices={91: 0.0025},
        smart_encoding=bool(smart),
    )
    wall = time.perf_counter() - t0
    s = plan.summary()
    return {
        "wall_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before / 1024,
        "ready": s.ready,
        "requests": s.requests,
        "unique_contents": s.unique_contents,
        "dtype": str(df["phone"].dtype),
    }


def run(n: int = 1_000_000) -> list[dict[str, Any]]:
    """Rows of the result table: ``{"name", "value", "unit"}``."""
    rows: list[dict[str, Any]] = []
    for arrow in (True, False):
        label = "pyarrow str" if arrow else "python object"
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "1" if arrow else "0"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        m = json.loads(out.stdout.strip().splitlines()[-1])
        rows += [
            {
                "name": f"plan {n:,} rows ({label}) wall",
                "value": round(m["wall_s"], 2),
                "unit": "s",
            },
            {"name": f"plan {n:,} rows ({label}) target", "value": TARGET_S, "unit": "s"},
            {
                "name": f"plan {n:,} rows ({label}) peak RSS",
                "value": round(m["peak_rss_mb"]),
                "unit": "MB",
            },
            {
                "name": f"plan {n:,} rows ({label}) RSS before planning",
                "value": round(m["rss_before_mb"]),
                "unit": "MB",
            },
            {"name": f"plan {n:,} rows ({label}) ready rows", "value": m["ready"], "unit": "rows"},
            {
                "name": f"plan {n:,} rows ({label}) requests",
                "value": m["requests"],
                "unit": "requests",
            },
            {"name": f"plan {n:,} rows ({label}) phone dtype", "value": m["dtype"], "unit": ""},
        ]
    return rows


def _smart_arg() -> bool | None:
    """``None``: the default run; else the smart-encoding comparison (on or off)."""
    return None if len(sys.argv) < 5 else sys.argv[4] == "smart"


SMART_TARGET = 1.5  # planning with smart_encoding=True at most 1.5x the time without


def run_smart(n: int = 1_000_000) -> list[dict[str, Any]]:
    """Planning ``n`` rows (two placeholders) with and without smart encoding, pyarrow str."""
    walls = {}
    for smart in (False, True):
        cmd = [sys.executable, __file__, "--child", str(n), "1", "smart" if smart else "plain"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        walls[smart] = json.loads(out.stdout.strip().splitlines()[-1])["wall_s"]
    return [
        {
            "name": f"plan {n:,} rows, smart_encoding=False",
            "value": round(walls[False], 2),
            "unit": "s",
        },
        {
            "name": f"plan {n:,} rows, smart_encoding=True",
            "value": round(walls[True], 2),
            "unit": "s",
        },
        {"name": "smart / plain", "value": round(walls[True] / walls[False], 2), "unit": "x"},
        {"name": "smart / plain target", "value": SMART_TARGET, "unit": "x"},
    ]


def _print(rows: list[dict[str, Any]]) -> None:
    w = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{w}}  {r['value']!s:>12} {r['unit']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_measure(int(sys.argv[2]), sys.argv[3] == "1", _smart_arg())))
    elif len(sys.argv) > 1 and sys.argv[1] == "--smart":
        _print(run_smart(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000))
    else:
        _print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
