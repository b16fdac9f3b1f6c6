"""The shape of ``app/``: imports flow one way, no cycles, no private names across modules, no
module over 400 lines.

Read with the standard library's ``ast`` only: the rules hold for the source as written, whatever
happens to be imported at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
MAX_LINES = 400

# Packages (and loose modules) in the order imports may flow: each may import only those
# listed before it, and modules of its own package.  Mirrors the docstring of app/__init__.py.
LAYERS = [
    "app.clock", "app.config", "app.locks", "app.db", "app.caching",
    "app.repo", "app.content", "app.history", "app.search", "app.editing",
    "app.accounts", "app.lifecycle", "app.web", "app.cli", "app",
]


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> list[tuple[ast.ImportFrom | ast.Import, bool, bool]]:
    """Every import of the module: (node, at module level, inside ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def walk(node: ast.AST, top: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, top, typing_only))
            elif isinstance(child, ast.If) and top and is_type_checking(child):
                walk(child, top, True)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                            | ast.Lambda):
                walk(child, False, typing_only)
            else:
                walk(child, top, typing_only)

    walk(tree, True, False)
    return found


def resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[tuple[str, list[str]]]:
    """(imported project module, names imported from it) for one import statement."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name.split(".")[0] == "app"]
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if base.split(".")[0] != "app":
        return []
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in MODULES:  # ``from app.x import module``
            out.append((sub, []))
        else:
            out.append((base, [alias.name]))
    return out


def graph(*, typing_too: bool = True) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node, _top, typing_only in imports(path):
            if typing_only and not typing_too:
                continue
            for target, _names in resolve(module, node):
                if target in MODULES and target != module:
                    edges[module].add(target)
    return edges


def layer(module: str) -> int:
    best = max((name for name in LAYERS if module == name or module.startswith(name + ".")),
               key=len)
    return LAYERS.index(best)


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import one another (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in edges:
        if module not in index:
            strongconnect(module)
    return cycles


def test_no_import_cycles():
    assert find_cycles(graph()) == []


def test_the_cycle_finder_sees_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(edges) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_imports_follow_the_layers():
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            same_package = target.rpartition(".")[0] == module.rpartition(".")[0]
            if layer(target) > layer(module) and not same_package:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_project_imports_are_at_module_level():
    """A function-level import is how a cycle hides: every project import is at the top."""
    hidden = [f"{module}:{node.lineno}" for module, path in MODULES.items()
              for node, top, _t in imports(path) if not top and resolve(module, node)]
    assert hidden == []


def test_no_private_name_imported_from_another_module():
    private = [f"{module}:{node.lineno} {name}" for module, path in MODULES.items()
               for node, _top, _t in imports(path)
               for _target, names in resolve(module, node)
               for name in names if name.startswith("_")]
    assert private == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    assert len(MODULES[module].read_text().splitlines()) <= MAX_LINES


@pytest.mark.parametrize("package", sorted(m for m, p in MODULES.items()
                                           if p.name == "__init__.py"))
def test_every_package_says_what_it_owns(package):
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text()))
    assert doc and "import" in doc, f"{package}: docstring must say what it owns and may import"
