"""The notebooks run top to bottom (nbclient, a real ipykernel) and are committed without outputs.

Each notebook is executed twice in a row in the same folder (one temp copy of ``notebooks/``),
as a user re-running it would: the second run must tell the same story (the outputs of the cells
tagged ``outcome`` agree) and the runs leave nothing beside the notebooks but the ``runs/``
folder. The form notebook is also worked (sent and exported) in code, as a user would click.
Jupyter's own folders (and the python3 kernelspec: this interpreter) are in the temp folder too.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NAMES = [
    "01_quickstart.ipynb",
    "02_campaign_form.ipynb",
    "03_resume_and_reconcile.ipynb",
    "04_workspace.ipynb",
    "05_schedule.ipynb",
    "06_test_and_trial.ipynb",
    "07_experiment.ipynb",
]
CELL_TIMEOUT = 120  # seconds per cell; the slowest cell takes a few seconds
OUTCOME_TAG = "outcome"  # the cells whose output is the story a run tells
ROWS_LINE = re.compile(r"([\d,]+) rows: (.*)")  # how an outcome cell prints result.counts()
STATE_COUNT = re.compile(r"(\d[\d,]*) ([a-z_]+)")  # one "<n> <state>" of that line
#: Deleting files teaches users to delete ledgers: the notebooks write new files, never remove.
DELETES_FILES = re.compile(r"\bos\.(remove|unlink)\(|\.unlink\(|\brmtree\(|\.rmdir\(")


def test_the_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"
    assert "widgets" not in book.metadata, f"{path.name}: widget state saved in metadata"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_tag_their_outcome_and_delete_no_files(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert any(OUTCOME_TAG in c.metadata.get("tags", []) for c in code), (
        f"{path.name}: no cell tagged {OUTCOME_TAG!r}"
    )
    for cell in code:
        assert not DELETES_FILES.search(cell.source), f"{path.name}: a cell deletes files"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp copy of the notebooks folder, with Jupyter's folders and a python3 kernelspec."""
    jupyter = tmp_path / "jupyter"
    spec_dir = jupyter / "data" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (itnio-campaign tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    for var, sub in (
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        monkeypatch.setenv(var, str(jupyter / sub))
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter / "data"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    for var in (
        "ITNIO_API_KEY", "ITNIO_API_SECRET", "ITNIO_APP_ID", "ITNIO_BASE_URL", "ITNIO_WORKSPACE"
    ):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    cwd = tmp_path / "notebooks"
    cwd.mkdir()
    for path in NOTEBOOKS:  # the notebooks only: not a runs/ folder a local run left in the repo
        shutil.copy(path, cwd / path.name)
    return cwd


def run_notebook(path: Path, *, clicks: str | None = None) -> nbformat.NotebookNode:
    """Execute the notebook at ``path`` in its folder, in a new kernel ("Restart and Run All").

    ``clicks``: code run just before the outcome cell, as a user working the form would.
    """
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    if clicks is not None:
        at = next(i for i, c in enumerate(book.cells) if OUTCOME_TAG in c.metadata.get("tags", []))
        book.cells.insert(at, nbformat.v4.new_code_cell(clicks))
    client = NotebookClient(
        book,
        timeout=CELL_TIMEOUT,
        startup_timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return book


def text_of(book: nbformat.NotebookNode, *, tag: str | None = None) -> str:
    """Every text output (streams, plain and HTML results) of the executed notebook.

    With ``tag``, only the outputs of the cells tagged so.
    """
    parts: list[str] = []
    for cell in book.cells:
        if tag is not None and tag not in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts += [str(out.data.get(k, "")) for k in ("text/plain", "text/html")]
    return "\n".join(parts)


def story_of(book: nbformat.NotebookNode) -> list[object]:
    """What a run's outcome cells say, one item per line; "<rows> rows: <n> <state>, ..." parsed.

    The sandbox draws each message's delivery fate from one seeded random stream, in the order
    requests arrive; concurrent requests may arrive in either order, so the split between
    ``delivered`` and ``undelivered`` can differ between runs while their sum cannot.
    """
    story: list[object] = []
    for line in text_of(book, tag=OUTCOME_TAG).splitlines():
        match = ROWS_LINE.fullmatch(line)
        if match is None:
            story.append(line)
            continue
        parts = [STATE_COUNT.fullmatch(part) for part in match[2].split(", ")]
        assert all(parts), f"not a count of states: {line}"
        counts = {p[2]: int(p[1].replace(",", "")) for p in parts if p is not None}
        rows = int(match[1].replace(",", ""))
        assert sum(counts.values()) == rows, f"the states do not add up to the rows: {line}"
        reported = counts.pop("delivered", 0) + counts.pop("undelivered", 0)
        story.append((rows, counts, reported))
    return story


def run_twice(
    name: str, cwd: Path, *, clicks: str | None = None
) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """Run the notebook twice in the same folder; the two runs must tell the same story.

    The outcome cells print only counts (no times, ids or paths), so they compare exactly
    (delivered and undelivered summed, see ``story_of``).
    """
    first = run_notebook(cwd / name, clicks=clicks)
    second = run_notebook(cwd / name, clicks=clicks)
    beside = sorted(p.name for p in cwd.iterdir() if p.suffix != ".ipynb" and p.name != "runs")
    assert beside == [], f"{name} left files beside the notebooks: {beside}"
    # Ledgers closed cleanly leave no companions behind (lock, -wal, -shm), in runs/ too.
    leftovers = sorted(
        p.name for p in cwd.rglob("*") if p.name.endswith((".lock", "-wal", "-shm", ".tmp"))
    )
    assert leftovers == [], f"{name} left ledger companions: {leftovers}"
    story = story_of(first)
    assert story, f"{name}: the outcome cell printed nothing"
    assert story_of(second) == story, f"{name}: the second run tells another story"
    return first, second


@pytest.mark.slow
def test_quickstart_runs_twice_in_one_folder(workdir: Path) -> None:
    for book in run_twice("01_quickstart.ipynb", workdir):
        out = text_of(book)
        assert "api_key=***" in out and "sandbox-secret" not in out
        assert "delivered" in text_of(book, tag=OUTCOME_TAG)
    runs = sorted(workdir.glob("runs/quickstart-*"))
    assert len(runs) == 2, "each run writes to a folder of its own"
    for run in runs:
        assert (run / "report.xlsx").is_file()
        assert (run / "ledger.sqlite").is_file()


#: A user working the form (the notebook gives it the run's own workspace, so each run tells
#: the same story): write the message, dry run, confirm, send, export.
FORM_CLICKS = """
form.content.value = "Hi {first_name}, 20% off at {store} this weekend."
form.dry_run_button.click()
if form.balance_task is not None:
    await form.balance_task
form.confirm.value = True
form.send_button.click()
await form.sending_task
form.export()
"""


@pytest.mark.slow
def test_campaign_form_notebook_runs_twice_in_one_folder(workdir: Path) -> None:
    untouched = run_notebook(workdir / "02_campaign_form.ipynb")
    widget_views = [
        out
        for cell in untouched.cells
        for out in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    assert widget_views, "the form did not display as a widget"
    assert "nothing sent yet" in text_of(untouched, tag=OUTCOME_TAG)
    for book in run_twice("02_campaign_form.ipynb", workdir, clicks=FORM_CLICKS):
        assert "'submitted': 2586" in text_of(book, tag=OUTCOME_TAG)
    folders = sorted(workdir.glob("runs/form-*"))
    runs = [f for f in folders if any(f.glob("campaign-*.sqlite"))]
    assert len(runs) == 2, "each send wrote to its run's folder"
    for untouched_run in set(folders) - set(runs):  # only its (empty) workspace, nothing sent
        assert {p.name for p in untouched_run.iterdir()} <= {"workspace.sqlite"}
    for run in runs:
        assert len(list(run.glob("campaign-*.sqlite"))) == 1  # the send's ledger
        assert len(list(run.glob("*.xlsx"))) == 1  # the exported report


@pytest.mark.slow
def test_resume_and_reconcile_notebook_runs_twice_in_one_folder(workdir: Path) -> None:
    for book in run_twice("03_resume_and_reconcile.ipynb", workdir):
        out = text_of(book)
        outcome = text_of(book, tag=OUTCOME_TAG)
        assert "5,000 rows: 5,000 submitted" in outcome
        accepted = "5,000 recipients accepted by the provider; most times one was accepted: 1"
        assert accepted in outcome
        assert "1,000 found" in out
    runs = sorted(workdir.glob("runs/resume-*"))
    assert len(runs) == 2, "each run demonstrates the crash on a ledger of its own"
    for run in runs:
        assert (run / "report.xlsx").is_file()


@pytest.mark.slow
def test_test_and_trial_notebook_runs_twice_in_one_folder(workdir: Path) -> None:
    for book in run_twice("06_test_and_trial.ipynb", workdir):
        out = text_of(book)
        assert "test passed: False" in out and "-6" in out  # the refused template is caught
        assert "halted - trial gate failed: delivered 0% (0 of 100" in out
        assert "completed - trial gate passed" in out
        outcome = text_of(book, tag=OUTCOME_TAG)
        assert "with more: 0" in outcome
    runs = sorted(workdir.glob("runs/trial-*"))
    assert len(runs) == 2
    for run in runs:
        assert (run / "report.xlsx").is_file() and len(list(run.glob("*.sqlite"))) == 2


@pytest.mark.slow
def test_schedule_notebook_runs_twice_in_one_folder(workdir: Path) -> None:
    for book in run_twice("05_schedule.ipynb", workdir):
        outcome = text_of(book, tag=OUTCOME_TAG)
        assert "40 rows: " in outcome
        assert "accepted outside their window: 0" in outcome
        assert "zones: 5" in outcome
        out = text_of(book)
        assert out.count('class="itnio-lane"') == 5, "the chart has one lane per zone"
        assert "itnio-campaign run" in out  # the hand-off prints its command
    runs = sorted(workdir.glob("runs/schedule-*"))
    assert len(runs) == 2
    for run in runs:
        assert (run / "ledger.sqlite").is_file() and (run / "report.xlsx").is_file()
        assert (run / "unattended.sqlite").is_file()


@pytest.mark.slow
def test_experiment_notebook_runs_twice_and_finds_the_known_lift(workdir: Path) -> None:
    for book in run_twice("07_experiment.ipynb", workdir):
        out = text_of(book)
        outcome = text_of(book, tag=OUTCOME_TAG)
        # 20% of 6,000 in the holdout, the rest split evenly (the same split each run).
        groups = {m[1]: int(m[2].replace(",", "")) for m in
                  re.finditer(r"^(A|B|holdout): ([\d,]+) people", outcome, re.M)}  # fmt: skip
        assert sum(groups.values()) == 6000 and abs(groups["holdout"] - 1200) <= 2
        assert abs(groups["A"] - groups["B"]) <= 2
        assert f"{groups['holdout']:,} skipped_holdout" in outcome
        # The orders were drawn with a known effect (seeded): both intervals hold the truth.
        assert outcome.count("inside the interval: True") == 2, outcome
        assert "smallest detectable lift, A" in out
        assert "<svg" in out and "class='interval'" in out  # the charts rendered inline
    runs = sorted(workdir.glob("runs/experiment-*"))
    assert len(runs) == 2
    for run in runs:
        assert (run / "report.xlsx").is_file() and (run / "lift.svg").is_file()
        assert len(list(run.glob("*.sqlite"))) == 1


@pytest.mark.slow
def test_workspace_notebook_runs_twice_in_one_folder(workdir: Path) -> None:
    for book in run_twice("04_workspace.ipynb", workdir):
        out = text_of(book)
        outcome = text_of(book, tag=OUTCOME_TAG)
        assert "opted out: 5 (crm-export 3, reply 1, reviewed 1); awaiting review: 0" in outcome
        assert "skipped_opted_out" in out and "crm-export" in out
        assert "1 opted out, 0 opted back in, 1 to review" in out  # the sync's one line
        sent = int(re.search(r"the same message again: ([\d,]+) already sent", outcome)[1]
                   .replace(",", ""))  # fmt: skip
        capped = re.search(r"another message, capped: ([\d,]+) over", outcome)
        assert sent > 0 and capped is not None and int(capped[1].replace(",", "")) > 0
        assert "messages to" in outcome and "campaigns recorded: 1" in outcome
    runs = sorted(workdir.glob("runs/workspace-*"))
    assert len(runs) == 2, "each run keeps its workspace in a folder of its own"
    for run in runs:
        assert (run / "workspace.sqlite").is_file() and (run / "spring.sqlite").is_file()
