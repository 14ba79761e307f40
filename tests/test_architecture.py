"""The layout rules of DEVELOPERS.md, checked: no import cycle anywhere in src/, modules a
newcomer can hold in their head, one numerical kernel per concept."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "radval"
#: one cohesive algorithm each (the glmnet port, DeLong and its bootstraps)
LONG_ALLOWED = {"selection/lasso.py", "stats/_discrimination.py"}
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        name = ".".join(p.relative_to(SRC.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def _import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for t in targets:
                r = resolve(t)
                # importing a package runs its parent's __init__: that edge is not a cycle
                if r and r != m and not m.startswith(r + "."):
                    graph[m].add(r)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_src() -> None:
    graph = _import_graph()
    assert graph["radval.workflow._run"], "the import graph is empty: the parser broke"
    assert _cycles(graph) == []


def test_the_cycle_detector_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_no_module_a_newcomer_cannot_hold_in_their_head() -> None:
    long = {p.relative_to(SRC).as_posix(): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= LONG_ALLOWED, long


@pytest.mark.parametrize(("concept", "pattern"), [
    ("expit", r"^\s*def _?expit\b|1\.?0? / \(1\.?0? \+ (np|math)\.exp\(-"),
    ("logit", r"^\s*def _?logit\b"),
    ("wilson", r"^\s*def _?wilson"),
    ("rank AUC", r"^\s*def _?(auc|auc_ties|auc_sorted)\b"),
    ("logistic solver", r"^\s*def _?(logistic_newton|logistic_fit|irls)\b"),
])
def test_one_numerical_kernel_per_concept(concept: str, pattern: str) -> None:
    """expit/logit, the Wilson interval, the rank AUC and the logistic solver are defined
    once, in radval.stats._kernels (io/synth.py generates data with its own scalar
    logistic on purpose: the built-in study's bytes must not depend on numpy)."""
    rx = re.compile(pattern, re.M)
    where = sorted(p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
                   if p.name != "_kernels.py" and p.relative_to(SRC).as_posix() != "io/synth.py"
                   and rx.search(p.read_text()))
    assert where == [], f"{concept} implemented outside radval.stats._kernels: {where}"


def test_no_public_name_shares_its_module_name() -> None:
    """A function named like its module is shadowed by the module once the module is
    imported (``radval.stats.calibration`` was both): public modules of a subpackage must
    not carry the name of one of its public functions."""
    import importlib

    clashes = []
    for init in SRC.glob("*/__init__.py"):
        pkg = importlib.import_module(f"radval.{init.parent.name}")
        modules = {p.stem for p in init.parent.glob("*.py")}
        clashes += [f"radval.{init.parent.name}.{n}" for n in getattr(pkg, "__all__", [])
                    if n in modules]
    assert clashes == []
