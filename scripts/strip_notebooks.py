"""Strip outputs, execution counts and saved widget state from notebooks (before committing).

Usage::

    python scripts/strip_notebooks.py                  # notebooks/ and tests/browser_app/
    python scripts/strip_notebooks.py --check          # exit 1 if any notebook has outputs
    python scripts/strip_notebooks.py path/to/a.ipynb  # just these
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
DEFAULT_GLOBS = ("notebooks/*.ipynb", "tests/browser_app/*.ipynb")


def strip(book: nbformat.NotebookNode) -> bool:
    """Remove outputs in place; True if anything changed."""
    changed = False
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        if cell.outputs or cell.execution_count is not None:
            cell.outputs, cell.execution_count = [], None
            changed = True
        for key in ("execution", "collapsed", "scrolled"):
            if key in cell.metadata:
                del cell.metadata[key]
                changed = True
    if "widgets" in book.metadata:
        del book.metadata["widgets"]
        changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="report, do not write")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(p for g in DEFAULT_GLOBS for p in REPO.glob(g))
    dirty = []
    for path in paths:
        book = nbformat.read(path, as_version=4)
        if strip(book):
            dirty.append(path)
            if not args.check:
                nbformat.write(book, path)
    verb = "has outputs" if args.check else "stripped"
    for path in dirty:
        print(f"{verb}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
