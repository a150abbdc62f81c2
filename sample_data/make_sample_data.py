"""Generate the sample contact list (deterministic: same seed, same files).

    python sample_data/make_sample_data.py          # (re)write the files next to this script
    python sample_data/make_sample_data.py OUT_DIR  # write them elsewhere (tests compare)

Files:

* ``contacts.csv`` / ``contacts.xlsx`` (same rows): phone, first_name, store, city, region,
  customer_id. ~3,000 rows with the mess real exports have: mixed number formats, Excel floats,
  values rounded to scientific notation, blanks, the same person twice in other formats,
  non-GSM names (Zoë, Łukasz, Hindi, Arabic, an emoji), numbers from IN (most), US, GB, DE,
  BR and NG, national numbers with a ``region`` column, a pasted blob in a name.
  In the XLSX the "Excel float" phones are real numeric cells.
* ``opt_outs.csv``: some of those numbers, formatted differently, plus a few strangers.
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import phonenumbers

SEED = 20240601
ROWS = 3000
HERE = Path(__file__).resolve().parent

FIRST_NAMES = [
    "Aarav",
    "Vivaan",
    "Aditya",
    "Arjun",
    "Sai",
    "Ishaan",
    "Diya",
    "Ananya",
    "Saanvi",
    "Anika",
    "Navya",
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
    "Rohan",
    "Kavya",
    "Arnav",
    "Tanvi",
    "Harsh",
    "Nikhil",
    "Lakshmi",
]
NON_GSM_NAMES = ["Zoë", "Łukasz", "राहुल", "प्रिया", "محمد", "فاطمة", "Sam 😀", "Şebnem"]
FOREIGN_NAMES = {
    "US": ["John", "Emily", "Michael", "Jessica"],
    "GB": ["Oliver", "Amelia", "Harry", "Isla"],
    "DE": ["Lukas", "Mia", "Jonas", "Lea"],
    "BR": ["João", "Ana", "Pedro", "Beatriz"],
    "NG": ["Chinedu", "Ngozi", "Emeka", "Aisha"],
}
STORES = {
    "IN": [
        ("Connaught Place", "New Delhi"),
        ("MG Road", "Bengaluru"),
        ("Bandra West", "Mumbai"),
        ("Park Street", "Kolkata"),
        ("T. Nagar", "Chennai"),
        ("Banjara Hills", "Hyderabad"),
        ("FC Road", "Pune"),
    ],
    "US": [("Fifth Avenue", "New York")],
    "GB": [("Oxford Street", "London")],
    "DE": [("Kurfürstendamm", "Berlin")],
    "BR": [("Avenida Paulista", "São Paulo")],
    "NG": [("Victoria Island", "Lagos")],
}
COUNTRY_WEIGHTS = [("IN", 86), ("US", 4), ("GB", 3), ("DE", 3), ("BR", 2), ("NG", 2)]
# national significant number: a leading part, then random digits up to the length
NSN_SHAPES = {
    "IN": [("98", 10), ("99", 10), ("97", 10), ("96", 10), ("70", 10), ("81", 10)],
    "US": [("212", 10), ("415", 10), ("646", 10)],
    "GB": [("74", 10), ("75", 10), ("20", 10)],
    "DE": [("151", 11), ("170", 10), ("30", 10)],
    "BR": [("119", 11), ("219", 11)],
    "NG": [("803", 10), ("806", 10)],
}


def _valid_nsn(rng: random.Random, country: str) -> str:
    while True:
        lead, length = rng.choice(NSN_SHAPES[country])
        nsn = lead + "".join(rng.choice("0123456789") for _ in range(length - len(lead)))
        cc = phonenumbers.country_code_for_region(country)
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+{cc}{nsn}")):
            return nsn


def _format(rng: random.Random, country: str, nsn: str) -> tuple[Any, str]:
    """A messy spelling of the number and the region a human would put next to it."""
    cc = str(phonenumbers.country_code_for_region(country))
    e164 = cc + nsn
    if country == "IN":
        choice = rng.choices(
            [
                "intl_spaced",
                "intl_plain",
                "national",
                "trunk",
                "dashed",
                "00",
                "float",
                "sci",
                "parens",
                "dots",
                "apostrophe",
            ],
            weights=[22, 12, 18, 6, 8, 5, 12, 3, 4, 3, 2],
        )[0]
    else:
        choice = rng.choice(["intl_spaced", "intl_plain", "national_region", "00", "float"])
    region = country if choice == "national_region" else ""
    if choice == "intl_spaced":
        return f"+{cc} {nsn[:5]} {nsn[5:]}", region
    if choice == "intl_plain":
        return f"+{e164}", region
    if choice == "national":
        return nsn, region
    if choice == "trunk":
        return f"0{nsn[:5]} {nsn[5:]}", region
    if choice == "dashed":
        return f"+{cc}-{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}", region
    if choice == "00":
        return f"00{cc} {nsn}", region
    if choice == "float":
        return float(e164), region  # Excel turned the column into numbers
    if choice == "sci":
        return f"{int(e164[0])}.{e164[1:6]}E+{len(e164) - 1}", region  # rounded by Excel
    if choice == "parens":
        return f"(+{cc}) {nsn[:3]} {nsn[3:6]} {nsn[6:]}", region
    if choice == "dots":
        return f"{nsn[:2]}.{nsn[2:4]}.{nsn[4:6]}.{nsn[6:8]}.{nsn[8:]}", region
    if choice == "apostrophe":
        return f"'+{e164}", region
    # national_region: the local way of writing it, with the region column filled in
    parsed = phonenumbers.parse(f"+{e164}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL), region


def make_rows(seed: int = SEED, rows: int = ROWS) -> tuple[list[dict[str, Any]], list[str]]:
    """The contact rows and the opt-out values."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    people: list[tuple[str, str]] = []  # (country, nsn) of earlier rows, for duplicates
    for i in range(rows):
        roll = rng.random()
        if roll < 0.04 and people:  # the same person again, spelled another way
            country, nsn = rng.choice(people)
        else:
            country = rng.choices(
                [c for c, _ in COUNTRY_WEIGHTS], weights=[w for _, w in COUNTRY_WEIGHTS]
            )[0]
            nsn = _valid_nsn(rng, country)
            people.append((country, nsn))
        phone, region = _format(rng, country, nsn)
        trap = rng.random()
        if trap < 0.015:
            phone = rng.choice(["", " ", None])  # blank
        elif trap < 0.025:
            phone = rng.choice(["n/a", "call office", "12345", "+91 98765", "98765 4321 0"])
        name = rng.choice(FOREIGN_NAMES.get(country, FIRST_NAMES))
        if rng.random() < 0.03:
            name = rng.choice(NON_GSM_NAMES)
        if rng.random() < 0.02:
            name = rng.choice(["", None, "  "])
        store, city = rng.choice(STORES[country])
        if rng.random() < 0.01:
            store = None
        out.append(
            {
                "phone": phone,
                "first_name": name,
                "store": store,
                "city": city,
                "region": region,
                "customer_id": f"C{100000 + i}",
            }
        )
    # data entry accident: a whole paragraph pasted into a name
    blob = "Customer asked us to call back later about the order. " * 21
    out[1234]["first_name"] = blob.strip()
    opt_outs: list[str] = []
    for country, nsn in rng.sample(people, 40):
        cc = phonenumbers.country_code_for_region(country)
        opt_outs.append(rng.choice([f"+{cc}{nsn}", f"00{cc}-{nsn}", f"{cc} {nsn}"]))
    opt_outs += ["+91 98000 00001", "+1 212 000 0000", "not a number"]
    return out, opt_outs


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)  # "918563012345.0", as a CSV saved from a numeric column
    return str(v)


def write(out_dir: Path) -> list[Path]:
    rows, opt_outs = make_rows()
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    csv_path = out_dir / "contacts.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_csv_value(r[c]) for c in columns])

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "contacts"
    ws.append(columns)
    for r in rows:
        ws.append([r[c] if r[c] != "" else None for c in columns])
    wb.properties.created = wb.properties.modified = datetime(2024, 6, 1)
    xlsx_path = out_dir / "contacts.xlsx"
    wb.save(xlsx_path)

    opt_path = out_dir / "opt_outs.csv"
    with opt_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["phone"])
        for v in opt_outs:
            w.writerow([v])
    return [csv_path, xlsx_path, opt_path]


#: The demo ships inside the package so `itnio-campaign demo` works from any folder.
PACKAGED = HERE.parent / "itnio_campaign" / "sample_data"

if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for path in write(target):
        print(path)
    if target == HERE:
        (PACKAGED / "contacts.csv").write_bytes((HERE / "contacts.csv").read_bytes())
        print(PACKAGED / "contacts.csv")
