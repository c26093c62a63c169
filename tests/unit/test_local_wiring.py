"""The local control plane's wiring: services take their collaborators in their constructors and
only the daemon's entry point builds them, so no module under console/local/ imports the daemon,
and their imports (type-only ones included) form no circle."""

from __future__ import annotations

import ast
from pathlib import Path

LOCAL = Path(__file__).resolve().parents[2] / "console" / "local"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("console.local"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("console.local"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {".".join(p.relative_to(LOCAL.parent.parent).with_suffix("").parts): p for p in LOCAL.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_module_imports_the_daemon_but_its_entry_point():
    importers = sorted(m for m, deps in _graph().items() if "console.local.daemon" in deps)
    assert importers == []


def test_the_local_modules_import_no_circle():
    graph, state, cycles = _graph(), {}, []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(path[path.index(dep):] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
