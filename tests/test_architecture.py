"""The house as ``docs/architecture.md`` describes it: every package on a floor, no import running up a floor,
no import circle (grimp's graph counts imports inside functions and under TYPE_CHECKING), every named module
existing, every module documented."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "culturecart"
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("culturecart", include_external_packages=False)


@pytest.fixture(scope="module")
def floors() -> dict[str, int]:
    """Package or top-level module -> its floor, from the floors table of the document."""
    out = {}
    for line in DOC.read_text("utf-8").splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|(.+?)\|", line)
        if match:
            for name in re.findall(r"`([\w.]+)`", match.group(2)):
                out[name] = int(match.group(1))
    return out


def _top(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_package_and_top_level_module_has_a_floor(floors):
    here = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    here |= {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert sorted(here - set(floors)) == [], "add them to the floors table of docs/architecture.md"
    assert sorted(set(floors) - here) == [], "the floors table names what no longer exists"


def test_every_folder_of_the_package_is_a_documented_package():
    for folder in [SRC, *(p for p in SRC.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        if any(folder.glob("*.py")):
            init = folder / "__init__.py"
            assert init.exists(), f"{folder} holds modules but no __init__.py"
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        assert ast.get_docstring(tree) or path.name == "__main__.py", f"{path} has no module docstring"


def test_modules_named_in_the_document_exist():
    named = set(re.findall(r"`((?:[\w]+/)*[\w]+\.py)`", DOC.read_text("utf-8")))
    assert named, "the document names modules"
    for name in sorted(named):
        hits = list(SRC.rglob(name)) if "/" not in name else [SRC / name, SRC.parents[1] / name]
        assert any(h.exists() for h in hits), f"docs/architecture.md names {name}, which does not exist"


def test_no_import_runs_up_a_floor(graph, floors):
    wrong = []
    for module in graph.modules:
        top = _top(module)
        if not top:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            other = _top(imported)
            if other and other != top and floors[other] > floors[top]:
                wrong.append(f"{module} (floor {floors[top]}) imports {imported} (floor {floors[other]})")
    assert wrong == []


def test_no_import_circle(graph):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index, low, stack, on, circles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for module in edges:
        if module not in index:
            visit(module)
    assert circles == []


def test_the_checker_sees_imports_in_functions_and_under_type_checking(graph):
    # views.py imports TitleHead only under TYPE_CHECKING; the study's finish imports the report in a function.
    assert "culturecart.matching.arcface" in graph.find_modules_directly_imported_by("culturecart.matching.views")
    assert "culturecart.report.page" in graph.find_modules_directly_imported_by("culturecart.study.run")
