"""The package's shape: layers imported only from above, no import cycle,
nothing imports the package root from inside, every module imports on its
own, no module is too long, maintenance tools stay out."""

import ast
import subprocess
import sys
from pathlib import Path

import skalltransfer

PACKAGE = Path(skalltransfer.__file__).parent


def _modules():
    """``{module name: path}`` of every module of the package."""
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(name, path, modules):
    """Package modules that ``name`` imports anywhere in its body (module
    level or inside functions), the package root included."""
    is_package = path.name == "__init__.py"
    base = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base.split(".")
                parent = parent[: len(parent) - node.level + 1]
                target = ".".join(parent + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [f"{target}.{alias.name}" for alias in node.names]
            candidates = [c if c in modules else target for c in candidates]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for target in candidates:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


# Bottom to top: a module imports only modules of its own subpackage or of
# a strictly lower layer (docs/developers.rst draws the same picture).
LAYERS = {
    "skalltransfer._version": 0,
    "skalltransfer._kernels": 0,
    "skalltransfer._archives": 0,
    "skalltransfer.datasets": 1,
    "skalltransfer._core": 1,
    "skalltransfer.sources": 2,
    "skalltransfer._source_cache": 2,
    "skalltransfer.metrics": 2,
    "skalltransfer.transfer": 3,
    "skalltransfer.plotting": 4,
    "skalltransfer._persist": 4,
    "skalltransfer.active": 4,
    "skalltransfer.reproduce": 5,
    "skalltransfer.model_selection": 5,
    "skalltransfer._show_versions": 5,
    "skalltransfer._deprecated": 5,
    "skalltransfer.cli": 6,
}
MAX_LINES = 600


def _unit(module):
    """The top-level subpackage or module of the package ``module`` is in."""
    return ".".join(module.split(".")[:2])


def test_every_module_belongs_to_a_layer():
    units = {_unit(name) for name in _modules() if name != "skalltransfer"}
    assert sorted(units - set(LAYERS)) == []


def test_each_layer_imports_only_lower_layers():
    offenders = []
    for name, targets in _graph().items():
        if name == "skalltransfer":
            continue
        for target in targets:
            if target == "skalltransfer" or _unit(target) == _unit(name):
                continue
            if LAYERS[_unit(target)] >= LAYERS[_unit(name)]:
                offenders.append(f"{name} -> {target}")
    assert sorted(offenders) == []


def test_no_module_is_longer_than_the_limit():
    lengths = {
        name: len(path.read_text().splitlines()) for name, path in _modules().items()
    }
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert too_long == {}


def test_no_module_inside_imports_the_package_root():
    offenders = sorted(
        name
        for name, targets in _graph().items()
        if name != "skalltransfer" and "skalltransfer" in targets
    )
    assert offenders == []


def test_the_import_graph_has_no_cycle():
    graph = {
        name: {t for t in targets if t != "skalltransfer"}
        for name, targets in _graph().items()
    }
    state = {}
    cycles = []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_every_module_imports_in_a_fresh_interpreter_in_any_order():
    names = sorted(_modules())
    for order in (names, names[::-1]):
        code = (
            "import importlib\n"
            f"for name in {order!r}:\n"
            "    importlib.import_module(name)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


def test_maintenance_scripts_are_not_shipped():
    assert not any("bundle" in name for name in _modules())
