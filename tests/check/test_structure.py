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


# -- nothing reads outside the repository (issue: ship the reference histories in data/) ------

REPO = PKG.parents[1]


def _escapes(source: str, name: str, depth: int) -> list[str]:
    """String constants and ``.parents[k]`` subscripts that point outside the repository.

    ``depth`` is the number of folders between the repository and the file, so that
    ``Path(__file__).parents[depth]`` is the repository and any larger index leaves it.
    """
    bad = []
    tree = ast.parse(source, name)
    in_fstring = {
        id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values
    }  # f"{a}..{b}" is a range in a message, not a path
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstring:
            text = node.value.replace("\\", "/")
            if "shared/reference" in text or text == ".." or "../" in text or "/.." in text:
                bad.append(f"{name}:{node.lineno}: {text[:60]!r}")
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
            and node.slice.value > depth
        ):
            bad.append(f"{name}:{node.lineno}: parents[{node.slice.value}] leaves the repository")
    return bad


def _file_escapes(path: Path) -> list[str]:
    depth = len(path.resolve().relative_to(REPO.resolve()).parts) - 1
    return _escapes(path.read_text(), path.name, depth)


def test_no_module_reads_outside_the_repository():
    files = sorted(REPO.joinpath("consensuslab").rglob("*.py"))
    assert len(files) > 20
    bad = [hit for f in files for hit in _file_escapes(f)]
    assert not bad, "references outside the repository:\n" + "\n".join(bad)


def test_escape_detector_catches_the_old_code():
    # the detector itself can fail: the old porcupine_dir() (in consensuslab/check/) is flagged
    old = 'P = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "porcupine"\n'
    assert len(_escapes(old, "jepsen.py", depth=2)) == 1
    assert len(_escapes("Q = Path(__file__).resolve().parents[3]\n", "jepsen.py", depth=2)) == 1
    assert _escapes("Q = Path(__file__).resolve().parents[2]\n", "jepsen.py", depth=2) == []
    assert _escapes('M = f"{lo}..{hi}"\n', "x.py", depth=2) == []
    assert len(_escapes('D = "see ../shared/reference/porcupine"\n', "x.py", depth=2)) == 1


def test_notebook_benchmark_and_tests_use_the_repository_data():
    for rel in ("notebooks/08-linearizability.ipynb", "benchmarks/bench_linearizability.py"):
        text = (REPO / rel).read_text()
        assert "shared/reference" not in text and '"shared"' not in text, rel
        assert '".."' not in text and "'..'" not in text, rel
    for test in sorted((REPO / "tests" / "check").glob("*.py")):
        if test.name == "test_structure.py":
            continue  # this file spells the forbidden strings
        text = test.read_text()
        assert '"shared" / "reference"' not in text, test.name
