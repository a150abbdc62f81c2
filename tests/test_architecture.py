"""The layers of docs/architecture.md, checked on the source: dependencies point down only."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "itnio_campaign"

#: What the engine must never import: the campaign and UI layers above it.
ABOVE_ENGINE = {
    "runner", "recovery", "sending", "plan", "ledger", "widgets", "cli", "excel", "delivery",
    "contacts",
}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, anywhere in it (also inside functions),
    except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text("utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(sub) for sub in ast.walk(node))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - node.level + 1]
            target = ".".join([*base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        if node.module:  # "from . import x" imports x, not the package itself
            found.add(target)
        found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if m.startswith("itnio_campaign")}


def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    # The package's __init__ loads names lazily on first use; it is nobody's dependency.
    return {
        name: {m for m in imports_of(path) if m in modules and m != "itnio_campaign"}
        for name, path in modules.items()
    }


def test_no_import_cycle_in_the_package() -> None:
    deps = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(deps[module]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(deps):
        if module not in state:
            visit(module)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_engine_depends_on_no_layer_above_it() -> None:
    deps = graph()["itnio_campaign.engine"]
    above = {f"itnio_campaign.{m}" for m in ABOVE_ENGINE}
    assert not deps & above, deps & above


def test_the_cycle_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = PACKAGE / "widgets.py"  # imports runner inside a method
    assert "itnio_campaign.runner" in imports_of(module)
