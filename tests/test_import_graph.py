"""The import graph of fer_bench, read from the source (no imports run): no cycle inside fer_bench.models, and
no library package reaches the CLI.

Every ``import`` / ``from ... import`` statement counts, including those inside functions (a lazy import is still
a dependency). ``python tests/test_import_graph.py`` prints the graph of fer_bench.models and any cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG_ROOT = Path(__file__).resolve().parents[1] / "fer_bench"
LIBRARY_PACKAGES = ("data", "models", "protocol", "results", "btfer")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG_ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """fer_bench modules that ``name`` imports (``from pkg import sub`` counts as importing ``pkg.sub``)."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules}
            out |= subs or {target}
            if node.module:
                out.add(target)
    return {m for m in out if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]], within: str) -> list[list[str]]:
    """Elementary cycles found by depth-first search among modules whose name starts with ``within``."""
    nodes = {n for n in graph if n == within or n.startswith(within + ".")}
    found: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node] & nodes):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):]
                i = cyc.index(min(cyc))
                key = tuple(cyc[i:] + cyc[:i])
                if key not in seen:
                    seen.add(key)
                    found.append([*key, key[0]])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for n in sorted(nodes):
        if n not in state:
            visit(n, [])
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Modules reachable from ``start``, each with the module that imports it on one path."""
    parent: dict[str, str] = {}
    todo = [start]
    while todo:
        node = todo.pop()
        for nxt in graph[node]:
            if nxt not in parent and nxt != start:
                parent[nxt] = node
                todo.append(nxt)
    return parent


def test_graph_is_read():
    graph = import_graph()
    assert "fer_bench.models.registry" in graph
    assert "fer_bench.models.spec" in graph["fer_bench.models.registry"]
    assert "fer_bench.models.applications" in graph["fer_bench.models.registry"]  # lazy imports count


def test_models_package_has_no_import_cycle():
    found = cycles(import_graph(), "fer_bench.models")
    assert not found, "import cycles in fer_bench.models:\n" + "\n".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize("package", LIBRARY_PACKAGES)
def test_library_packages_never_import_the_cli(package):
    graph = import_graph()
    prefix = f"fer_bench.{package}"
    for module in sorted(m for m in graph if m == prefix or m.startswith(prefix + ".")):
        parent = _reachable(graph, module)
        cli = sorted(m for m in parent if m == "fer_bench.cli" or m.startswith("fer_bench.cli."))
        if cli:
            path, node = [cli[0]], cli[0]
            while node != module:
                node = parent[node]
                path.append(node)
            pytest.fail(f"{module} imports the CLI: {' <- '.join(path)}")


if __name__ == "__main__":
    g = import_graph()
    for name in sorted(n for n in g if n.startswith("fer_bench.models")):
        print(f"{name}: {', '.join(sorted(m for m in g[name] if m.startswith('fer_bench.models'))) or '-'}")
    cyc = cycles(g, "fer_bench.models")
    print("cycles:", *(" -> ".join(c) for c in cyc) if cyc else ["none"], sep="\n  ")
