"""The notebooks run top to bottom (nbclient, a real ipykernel) and are committed without outputs.

Each runs in a temporary folder, so the ledgers and reports it writes never land in the
repo; Jupyter's own folders (and the python3 kernelspec: this interpreter) are in it too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NAMES = ["01_quickstart.ipynb", "02_campaign_form.ipynb", "03_resume_and_reconcile.ipynb"]
CELL_TIMEOUT = 120  # seconds per cell; the slowest cell takes a few seconds


def test_the_three_notebooks_exist() -> None:
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


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp copy of the repo layout, with Jupyter's folders and a python3 kernelspec in it."""
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
    for var in ("ITNIO_API_KEY", "ITNIO_API_SECRET", "ITNIO_APP_ID", "ITNIO_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    cwd = tmp_path / "notebooks"
    cwd.mkdir()
    return cwd


def run_notebook(name: str, cwd: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    book = nbformat.read(REPO / "notebooks" / name, as_version=4)
    client = NotebookClient(
        book,
        timeout=CELL_TIMEOUT,
        startup_timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return book


def text_of(book: nbformat.NotebookNode) -> str:
    """Every text output (streams, plain and HTML results) of the executed notebook."""
    parts: list[str] = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts += [str(out.data.get(k, "")) for k in ("text/plain", "text/html")]
    return "\n".join(parts)


@pytest.mark.slow
def test_quickstart_runs(workdir: Path) -> None:
    book = run_notebook("01_quickstart.ipynb", workdir)
    out = text_of(book)
    assert "api_key=***" in out and "sandbox-secret" not in out
    assert "delivered" in out
    assert (workdir / "quickstart-report.xlsx").is_file()
    assert list(workdir.glob("quickstart-*.sqlite"))


@pytest.mark.slow
def test_campaign_form_notebook_runs(workdir: Path) -> None:
    book = run_notebook("02_campaign_form.ipynb", workdir)
    widget_views = [
        out
        for cell in book.cells
        for out in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    assert widget_views, "the form did not display as a widget"
    assert "nothing sent yet" in text_of(book)


@pytest.mark.slow
def test_resume_and_reconcile_notebook_runs(workdir: Path) -> None:
    book = run_notebook("03_resume_and_reconcile.ipynb", workdir)
    out = text_of(book)
    assert "5,000 recipients accepted by the provider; most times one was accepted: 1" in out
    assert "1,000 found" in out
    assert (workdir / "resumed-report.xlsx").is_file()
