"""The package's layers, checked from its import statements (DESIGN.md, "Layers").

Every arrow points down: the node contract at the bottom, protocols above it, the drivers
(simulator, cluster) beside the protocols, scenarios and experiments above both, plots and
widgets on top. The graph is read with :mod:`ast` from the source, every ``import`` counted
(function-level ones too: a lazy import is still an arrow); ``if TYPE_CHECKING:`` imports count
for the layer rules but not for cycles, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "consensuslab"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def import_graph(root: Path = PACKAGE) -> dict[str, dict[str, bool]]:
    """``graph[a][b]`` is True when module ``a`` imports ``b`` at run time, False if only for typing."""
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, dict[str, bool]] = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        edges: dict[str, bool] = {}

        def add(target: str, runtime: bool) -> None:
            if target in files and target != mod:
                edges[target] = edges.get(target, False) or runtime

        def visit(node: ast.AST, runtime: bool) -> None:
            if isinstance(node, ast.If) and _is_type_checking(node):
                for child in node.body:
                    visit(child, False)
                for child in node.orelse:
                    visit(child, runtime)
                return
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, runtime)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    add(sub if sub in files else source, runtime)
            for child in ast.iter_child_nodes(node):
                visit(child, runtime)

        visit(ast.parse(path.read_text(encoding="utf-8")), True)
        graph[mod] = edges
    return graph


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _cl(*names: str) -> tuple[str, ...]:
    return tuple(f"consensuslab.{n}" for n in names)


#: (layer, layers it must never import, why)
RULES = [
    (_cl("node"), _cl("protocols", "sim", "cluster", "scenarios", "experiments", "plots", "widgets",
                      "check", "hashing", "quorum"), "the node contract sits at the bottom"),
    (_cl("protocols"), _cl("sim", "cluster", "scenarios", "experiments", "plots", "widgets", "reproduce",
                           "cli", "dashboard"), "protocols are pure: they know no driver"),
    (_cl("sim"), _cl("protocols", "cluster", "scenarios", "experiments", "plots", "widgets"),
     "the simulator drives any node through the contract"),
    (_cl("hashing", "quorum", "check", "stats"), _cl("plots", "widgets", "cluster", "scenarios", "experiments"),
     "the math computes; it never renders or runs scripted clusters"),
    (_cl("plots"), _cl("widgets"), "figures are below the explorers that show them"),
    (_cl("explore.fingerprint", "explore.model", "explore.search", "explore.system", "explore.actors", "explore.walk"),
     _cl("protocols", "sim", "cluster", "scenarios", "experiments", "plots", "widgets", "live"),
     "the model checker's core explores any node through the contract, beside the simulator"),
    (_cl("explore.models"), _cl("sim", "cluster", "scenarios", "experiments", "plots", "widgets", "live"),
     "models of protocols know the protocols, not the drivers"),
    (_cl("explore.replay"), _cl("cluster", "scenarios", "experiments", "plots", "widgets", "live"),
     "a replay drives the simulator, below the scripted runs and the figures"),
]


def layer_violations(graph: dict[str, dict[str, bool]]) -> list[str]:
    out = []
    for layer, forbidden, why in RULES:
        for mod, edges in graph.items():
            if not _under(mod, layer):
                continue
            for dep in edges:
                if _under(dep, forbidden):
                    out.append(f"{mod} imports {dep} ({why})")
    return out


def cycles(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), over run-time imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w, runtime in graph.get(v, {}).items():
            if not runtime:
                continue
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def test_layers_point_down() -> None:
    assert layer_violations(import_graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


# -- the checker itself must be able to fail --------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "consensuslab"
    for name, text in files.items():
        p = pkg / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for d in [pkg, *[p for p in pkg.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()
    return pkg


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"protocols/raft.py": "from consensuslab.sim.simulator import Simulator\n", "sim/simulator.py": ""},
         "consensuslab.protocols.raft imports consensuslab.sim.simulator"),
        ({"protocols/raft.py": "def f():\n    from consensuslab.cluster import Cluster\n", "cluster.py": ""},
         "consensuslab.protocols.raft imports consensuslab.cluster"),
        ({"protocols/paxos.py": "import consensuslab.scenarios.paxos\n", "scenarios/paxos.py": ""},
         "consensuslab.protocols.paxos imports consensuslab.scenarios.paxos"),
        ({"protocols/paxos.py": "from consensuslab.plots import paxos\n", "plots/paxos.py": ""},
         "consensuslab.protocols.paxos imports consensuslab.plots.paxos"),
        ({"quorum/x.py": "from ..widgets import base\n", "widgets/base.py": ""},
         "consensuslab.quorum.x imports consensuslab.widgets.base"),
        ({"hashing/x.py": "from consensuslab.plots.hashing import f\n", "plots/hashing.py": ""},
         "consensuslab.hashing.x imports consensuslab.plots.hashing"),
        ({"check/x.py": "from consensuslab import widgets\n", "widgets/base.py": ""}, "consensuslab.check.x imports consensuslab.widgets"),
        ({"stats.py": "import consensuslab.plots\n", "plots/sim.py": ""}, "consensuslab.stats imports consensuslab.plots"),
        ({"sim/x.py": "from consensuslab.protocols.raft import RaftNode\n", "protocols/raft.py": ""},
         "consensuslab.sim.x imports consensuslab.protocols.raft"),
        ({"explore/search.py": "from consensuslab.protocols.paxos import PaxosNode\n", "protocols/paxos.py": ""},
         "consensuslab.explore.search imports consensuslab.protocols.paxos"),
        ({"explore/actors.py": "def f():\n    from consensuslab.sim import simulator\n", "sim/simulator.py": ""},
         "consensuslab.explore.actors imports consensuslab.sim.simulator"),
        ({"explore/models/x.py": "import consensuslab.sim.simulator\n", "sim/simulator.py": ""},
         "consensuslab.explore.models.x imports consensuslab.sim.simulator"),
        ({"explore/replay.py": "from consensuslab.plots import explore\n", "plots/explore.py": ""},
         "consensuslab.explore.replay imports consensuslab.plots.explore"),
    ],
)
def test_a_forbidden_arrow_is_caught(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = layer_violations(import_graph(_write(tmp_path, files)))
    assert any(v.startswith(expected) for v in found), found


def test_a_cycle_is_caught_but_a_typing_import_is_not(tmp_path: Path) -> None:
    pkg = _write(tmp_path, {"check/a.py": "from consensuslab.check.b import x\n",
                            "check/b.py": "def f():\n    from consensuslab.check import a\n"})
    assert cycles(import_graph(pkg)) == [["consensuslab.check.a", "consensuslab.check.b"]]
    pkg = _write(tmp_path / "t", {"check/a.py": "from consensuslab.check.b import x\n",
                                  "check/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                                "    from consensuslab.check.a import y\n"})
    assert cycles(import_graph(pkg)) == []
