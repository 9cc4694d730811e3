"""The README's map of layers is true: no import in mediumnet/ runs up a floor."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "mediumnet"
GROUND_FORBIDDEN = ("mlflow", "matplotlib")
PURE_FLOORS = 2
"""Floors 0 to 2 are pure: they never import MLflow or matplotlib."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _floors() -> dict[str, int]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### The layers", 1)[1]
    return {m: int(f) for f, m in re.findall(r"^\| (\d) \| `(mediumnet[\w.]*)` \|", section,
                                               re.M)}


def _type_only(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:``: imports for type hints, never run."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return skipped


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports when it runs, lazy imports inside functions included."""
    found = set()
    tree = ast.parse(path.read_text())
    type_only = _type_only(tree)
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            # `from mediumnet.data import splits` imports the module mediumnet.data.splits
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _floor_of(name: str, floors: dict[str, int]) -> int | None:
    while name:
        if name in floors:
            return floors[name]
        name = name.rpartition(".")[0]
    return None


def test_every_module_is_on_the_map_with_a_one_line_role():
    floors = _floors()
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    assert modules == set(floors), (sorted(modules - set(floors)), sorted(set(floors) - modules))
    for path in PACKAGE.rglob("*.py"):
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring and docstring.splitlines()[0].strip(), path


def test_no_import_runs_up_a_floor():
    floors = _floors()
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        mine = floors[name]
        for imported in _imports(path):
            if imported.split(".")[0] in GROUND_FORBIDDEN and mine <= PURE_FLOORS:
                upward.append(f"{name} (pure, floor {mine}) imports {imported}")
            if not imported.startswith("mediumnet"):
                continue
            theirs = _floor_of(imported, floors)
            if theirs is not None and theirs > mine:
                upward.append(f"{name} (floor {mine}) imports {imported} (floor {theirs})")
    assert not upward, "\n".join(upward)


def test_the_map_catches_an_upward_import(tmp_path):
    # The walk sees lazy imports inside functions too: the check cannot pass vacuously. Only
    # imports for type hints (under ``if TYPE_CHECKING:``), which never run, are left out.
    floors = _floors()
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                     "    from mediumnet.cli import cli\n"
                     "def f():\n    from mediumnet.train import train_branch\n")
    assert "mediumnet.train" in _imports(probe)
    assert "mediumnet.cli" not in _imports(probe)
    assert _floor_of("mediumnet.train", floors) > floors["mediumnet.data.views"]
    assert _floor_of("mediumnet.data.splits.splits", floors) == floors["mediumnet.data.splits"]


def test_bench_never_imports_tests():
    for path in (REPO / "bench").glob("*.py"):
        assert not any(i == "tests" or i.startswith("tests.") for i in _imports(path)), path


def test_no_function_does_more_than_one_step():
    # The house rule: no function over 100 lines (docstring included).
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 100:
                    long.append(f"{_module_name(path)}.{node.name}: {lines} lines")
    assert not long, "\n".join(long)


def test_no_module_is_over_500_lines():
    # Long modules hide several concerns; tables that are data live in data files.
    long = [f"{_module_name(p)}: {n} lines" for p in sorted(PACKAGE.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 500]
    assert not long, "\n".join(long)
