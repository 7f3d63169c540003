"""The package's modules form layers: no module imports (at the top or inside a function)
from a module that imports it back, directly or through others; and no module of the
package writes the pipeline's stages (there is no pdiff.pipeline: the stages are the
workflow scripts)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pdiff"


def imports(path: Path) -> set[str]:
    """The pdiff modules a file imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pdiff"):
            if node.module == "pdiff":
                found |= {a.name for a in node.names if (PACKAGE / f"{a.name}.py").exists()}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("pdiff.")}
    return found - {path.stem}


def test_no_module_imports_from_one_above_it():
    graph = {p.stem: imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    order, done = [], set()

    def visit(module, path):
        if module in path:
            cycle = " -> ".join([*path[path.index(module) :], module])
            raise AssertionError(f"import cycle: {cycle}")
        if module in done:
            return
        for dep in sorted(graph.get(module, ())):
            visit(dep, [*path, module])
        done.add(module)
        order.append(module)

    for module in sorted(graph):
        visit(module, [])
    assert "pipeline" not in graph


def test_the_check_finds_a_cycle(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("def f():\n    from pdiff.b import g\n")
    (tmp_path / "b.py").write_text("from pdiff import a\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path)
    try:
        test_no_module_imports_from_one_above_it()
    except AssertionError as e:
        assert "a -> b -> a" in str(e) or "b -> a -> b" in str(e)
    else:
        raise AssertionError("a cycle went unnoticed")
