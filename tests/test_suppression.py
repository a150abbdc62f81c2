"""Suppression lists (itnio_campaign.suppression): what is read, what is refused, what is told."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.errors import UsageError
from itnio_campaign.models import READY, SKIPPED_SUPPRESSED
from itnio_campaign.plan import Plan, plan_campaign
from itnio_campaign.suppression import (
    SuppressionList,
    combine,
    read_suppression,
    read_suppressions,
)

A, B, C = "919800000001", "919800000002", "919800000003"


def contacts() -> pd.DataFrame:
    return pd.DataFrame({"phone": [f"+{A}", f"+{B}", f"+{C}"], "name": ["Ann", "Bo", "Cy"]})


def states(plan: Plan) -> list[str]:
    return plan.recipients["state"].tolist()


# --- refused: a suppression that would silently suppress nothing ---------------------------


def test_missing_file_without_extension_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as err:
        plan_campaign(contacts(), content="Hi {name}", suppress="opt_outs_2024")
    assert str(err.value) == (
        "suppress 'opt_outs_2024': no such file, and not a list of phone numbers"
    )
    with pytest.raises(UsageError, match=r"^--suppress 'opt_outs_2024': no such file"):
        read_suppressions(["opt_outs_2024"], what="--suppress")


def test_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "somedir").mkdir()
    for source in (str(tmp_path / "somedir"), tmp_path / "somedir"):
        with pytest.raises(UsageError, match="is a folder, not a file of numbers"):
            plan_campaign(contacts(), content="Hi {name}", suppress=source)


@pytest.mark.parametrize("text", ["919800000001;abc", "919800000001, 12", "9198000000O1"])
def test_string_that_is_not_wholly_numbers_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="no such file, and not a list of phone numbers") as err:
        read_suppression(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["", "   ", ";,"])
def test_blank_string_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="not a list of phone numbers"):
        read_suppression(text)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"phone\n", "the file has no numbers"),  # header only
        (b"", "is empty|cannot read|the file has no numbers"),
        (b"phone\nn/a\nunknown\n", "none of its 2 entries is a valid phone number"),
    ],
)
def test_file_without_valid_numbers_is_refused(tmp_path: Path, body: bytes, match: str) -> None:
    path = tmp_path / "opt_outs.csv"
    path.write_bytes(body)
    with pytest.raises(UsageError, match=match):
        plan_campaign(contacts(), content="Hi {name}", suppress=path)


def test_dataframe_without_a_phone_column_is_refused() -> None:
    df = pd.DataFrame({"who": ["Ann", "Bo"], "why": ["stop", "stop"]})
    with pytest.raises(UsageError, match="cannot tell which column"):
        read_suppression(df)


def test_list_of_only_invalid_entries_is_refused() -> None:
    with pytest.raises(UsageError, match="none of its 2 entries"):
        read_suppression(["n/a", "-919800000001"])


# --- read: every number, with counts ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "919800000001;919800000002",
        "919800000001,919800000002",
        "919800000001 919800000002",
        "919800000001\n919800000002\n",
        "+91 98000 00001; +91 98000 00002",  # spaces inside a number keep it whole
        "919800000001 ;\t919800000002",
    ],
)
def test_numbers_in_one_string_are_all_suppressed(text: str) -> None:
    plan = plan_campaign(contacts(), content="Hi {name}", suppress=text)
    assert states(plan) == [SKIPPED_SUPPRESSED, SKIPPED_SUPPRESSED, READY]
    s = plan.summary()
    assert (s.suppression_entries, s.suppression_valid, s.suppressed_rows) == (2, 2, 2)


def test_file_entries_that_are_not_numbers_are_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "opt_outs"  # no extension: sniffed as CSV
    path.write_text("phone,why\n+91 98000 00001,stop\nn/a,unknown\n,blank\n0091 98000 00002,x\n")
    s = read_suppression(path)
    assert (s.entries, s.valid, s.invalid) == (3, 2, 1)
    assert s.numbers == frozenset({A, B}) and s.examples == ("'n/a'",)
    assert s.describe() == "3 entries read, 2 valid numbers (1 not a phone number, e.g. 'n/a')"
    plan = plan_campaign(contacts(), content="Hi {name}", suppress=str(path))
    assert states(plan) == [SKIPPED_SUPPRESSED, SKIPPED_SUPPRESSED, READY]


@pytest.mark.parametrize("suffix", [".csv", ".txt", ".xlsx"])
def test_files_with_and_without_header_row(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"opt{suffix}"
    if suffix == ".xlsx":
        pd.DataFrame({"Mobile": [A, B]}).to_excel(path, index=False)
    else:
        path.write_text(f"{A}\n{B}\n")  # no header row: the first line is a number too
    s = read_suppression(path)
    assert (s.entries, s.valid, s.numbers) == (2, 2, frozenset({A, B}))


def test_uploaded_bytes_with_their_name() -> None:
    s = read_suppression(f"phone;note\n{A};x\n{B};y\n".encode(), name="optout.csv")
    assert s.numbers == frozenset({A, B}) and s.sources == ("optout.csv",)


def test_several_sources_are_combined(tmp_path: Path) -> None:
    path = tmp_path / "opt.csv"
    path.write_text(f"phone\n{A}\nbad\n")
    both = read_suppressions([str(path), f"{B};{B}"], what="--suppress")
    assert both is not None
    assert (both.entries, both.valid, len(both)) == (4, 3, 2)
    assert both.numbers == frozenset({A, B})
    # a list mixing paths and numbers: each path is a source, the rest one list of numbers
    mixed = read_suppression([path, C])
    assert mixed.numbers == frozenset({A, C}) and mixed.entries == 3
    plan = plan_campaign(contacts(), content="Hi {name}", suppress=[path, C])
    assert states(plan) == [SKIPPED_SUPPRESSED, READY, SKIPPED_SUPPRESSED]
    assert read_suppressions([]) is None


def test_empty_list_in_memory_is_accepted_and_reported() -> None:
    plan = plan_campaign(contacts(), content="Hi {name}", suppress=[])
    s = plan.summary()
    assert (s.suppression_entries, s.suppression_valid, s.suppressed_rows) == (0, 0, 0)
    assert "suppression" in str(s) and "0 entries read, 0 valid numbers, removed 0 rows" in str(s)


def test_a_list_read_in_one_region_is_read_again_in_the_plans_region() -> None:
    national = read_suppression(["(212) 456-7890"], default_region="US")
    assert national.numbers == frozenset({"12124567890"})
    df = pd.DataFrame({"phone": ["+1 212 456 7890", "+91 98765 43210"], "name": ["A", "B"]})
    # planned in IN, the entry is read as an Indian number (as the contacts' would be)
    plan = plan_campaign(df, content="Hi {name}", suppress=national)
    assert states(plan) == [READY, READY]
    assert read_suppression(national).numbers == frozenset({"912124567890"})
    plan = plan_campaign(df, content="Hi {name}", suppress=national, default_region="US")
    assert states(plan) == [SKIPPED_SUPPRESSED, READY]


def test_combine_keeps_every_count() -> None:
    a = read_suppression([A, "x"])
    b = read_suppression(f"{A};{B}")
    c = combine([a, b])
    assert isinstance(c, SuppressionList)
    assert (c.entries, c.valid, len(c)) == (4, 3, 2)


# --- the dry run always says what the suppression did ---------------------------------------


def test_dry_run_reports_entries_valid_numbers_and_rows_removed(tmp_path: Path) -> None:
    path = tmp_path / "opt.csv"
    path.write_text(f"phone\n{A}\n{A}\nn/a\n919800000009\n")
    plan = plan_campaign(contacts(), content="Hi {name}", suppress=path)
    s = plan.summary()
    assert (s.suppression_entries, s.suppression_valid, s.suppressed_rows) == (4, 3, 1)
    line = "4 entries read, 3 valid numbers, removed 1 row"
    assert line in str(s) and line in s._repr_html_()
    assert dict(s.to_frame().values)["suppression"] == line
    d = s.as_dict()
    assert (d["suppression_entries"], d["suppression_valid"], d["suppressed_rows"]) == (4, 3, 1)
    assert "'n/a'" in str(s)
    # stored with the plan: a restored plan (the ledger) says the same
    again = Plan.restore(
        source=plan.source,
        recipients=plan.recipients,
        batches=plan.batches,
        settings=plan.settings,
        fingerprint=plan.fingerprint,
    )
    assert str(again.summary()) == str(s)


def test_dry_run_says_none_without_suppression() -> None:
    s = plan_campaign(contacts(), content="Hi {name}").summary()
    assert s.suppression_entries is None and s.suppressed_rows == 0
    assert dict(s.to_frame().values)["suppression"] == "none"


def test_two_numbers_in_one_list_entry_are_refused_not_half_suppressed() -> None:
    # what `--suppress "A;B"` handed to the plan before: one entry holding two numbers
    with pytest.raises(UsageError, match="none of its 1 entries"):
        plan_campaign(contacts(), content="Hi {name}", suppress=[f"{A};{B}"])
    s = read_suppression([f"{A};{B}", C])
    assert (s.entries, s.valid, s.numbers) == (2, 1, frozenset({C}))
