"""The shape of :mod:`consensuslab.check`: imports point one way, public names stay put.

House style: "two modules that import each other" is what to avoid; arrows point down. The
import graph is read from the source (every ``import``, including those inside functions and
``if TYPE_CHECKING:`` blocks), so a cycle hidden behind a lazy import is caught too.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import consensuslab.check as check_pkg

PKG = Path(check_pkg.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    """Modules of ``consensuslab.check`` that the file at ``path`` imports (anywhere in it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("consensuslab.check."):
                mod = name.split(".")[2]
                if (PKG / f"{mod}.py").is_file():
                    found.add(mod)
    return found


def _graph() -> dict[str, set[str]]:
    return {
        p.stem: _imports(p) - {p.stem}
        for p in sorted(PKG.glob("*.py"))
        if p.stem != "__init__"
    }


def test_check_modules_import_each_other_without_cycles():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(mod: str, path: list[str]) -> None:
        if state.get(mod) == 2:
            return
        assert state.get(mod) != 1, "import cycle: " + " -> ".join(path + [mod])
        state[mod] = 1
        for dep in sorted(graph.get(mod, ())):
            visit(dep, path + [mod])
        state[mod] = 2

    for mod in graph:
        visit(mod, [])


def test_history_is_the_bottom_layer():
    graph = _graph()
    assert graph["history"] == set()
    assert "linearizability" not in graph["models"]
    assert "linearizability" not in graph["jepsen"]


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("consensuslab.check", ["check_linearizable", "Operation", "UNKNOWN", "KVInput", "Model"]),
        ("consensuslab.check.linearizability", ["Operation", "check_linearizable", "history_frame",
                                                "LinearizabilityResult", "PartitionResult",
                                                "linearization_points", "_check_part"]),
        ("consensuslab.check.models", ["UNKNOWN", "Model", "KVInput", "RegisterInput", "KVModel",
                                       "RegisterModel", "CASRegisterModel", "get_model",
                                       "NondeterministicModel"]),
        ("consensuslab.check.history", ["Operation", "UNKNOWN"]),
    ],
)
def test_public_names_importable_where_they_were(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert hasattr(mod, name), f"{module}.{name}"


def test_one_operation_class_and_one_unknown():
    from consensuslab.check import history, linearizability, models

    assert linearizability.Operation is history.Operation is check_pkg.Operation
    assert models.UNKNOWN is history.UNKNOWN is check_pkg.UNKNOWN


def test_unknown_survives_pickling():
    import pickle

    from consensuslab.check import UNKNOWN

    assert pickle.loads(pickle.dumps(UNKNOWN)) is UNKNOWN
