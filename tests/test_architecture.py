"""Rules of ARCHITECTURE.md checked on the code: no Prefect in pipeline/, thin tasks, light CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_TASK_BODY_LINES = 14


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules("pipeline"), ids=lambda p: str(p.relative_to(ROOT)))
def test_pipeline_never_imports_prefect_nor_prints(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not {n for n in _imported(tree) if n.split(".")[0] in {"prefect", "prefect_dask"}}
    prints = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert prints == [], f"print() at lines {prints}"


def _tasks() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in _modules("flows"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and isinstance(d.func, ast.Name)
                    and d.func.id == "task" for d in node.decorator_list):
                found.append((f"{path.name}:{node.name}", node))
    return found


def test_flows_define_tasks() -> None:
    assert len(_tasks()) >= 5


@pytest.mark.parametrize(("name", "node"), _tasks(), ids=[n for n, _ in _tasks()])
def test_every_task_is_a_thin_wrapper(name: str, node: ast.FunctionDef) -> None:
    body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body  # docstring
    lines = body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]
    assert lines <= MAX_TASK_BODY_LINES, f"{name} has {lines} lines"
    called = {ast.unparse(n.func).split(".")[0] for n in ast.walk(node) if isinstance(n, ast.Call)}
    assert called & {"stages", "entities", "arguments", "report", "io"}, \
        f"{name} calls no pipeline stage"


def test_cli_import_is_light() -> None:
    code = ("import sys, stancemap.cli; heavy = ('torch', 'spacy', 'prefect', 'pdfplumber', "
            "'sentence_transformers', 'sklearn', 'duckdb', 'flows'); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_flow_helpers_do_not_import_prefect() -> None:
    for name in ("incremental.py", "stages.py"):
        tree = ast.parse((ROOT / "flows" / name).read_text(encoding="utf-8"))
        assert not {n for n in _imported(tree) if n.startswith("prefect")}


def test_every_table_is_declared_by_exactly_one_catalogue_row() -> None:
    from flows.catalog import CATALOG
    from pipeline.schema import TABLES

    declared = [table for stage in CATALOG for table in stage.writes]
    assert sorted(declared) == sorted(TABLES), "a table is declared twice or not at all"
    for stage in CATALOG:
        assert set(stage.amends) <= set(TABLES) - set(stage.writes)


def test_the_catalogue_is_well_formed() -> None:
    from flows.catalog import CATALOG, STAGES

    assert len(STAGES) == len(CATALOG)
    seen: set[str] = set()
    for stage in CATALOG:
        assert stage.after is None or stage.after in seen, f"{stage.name} reads a later stage"
        seen.add(stage.name)
        for name in stage.sources:
            assert (ROOT / "pipeline" / name).is_dir() or \
                (ROOT / "pipeline" / f"{name}.py").is_file(), f"{stage.name}: no {name}"
        runs_a_build = stage.scope == "corpus" and stage.flow == "analyse"
        assert (stage.build is not None) == runs_a_build, stage.name


def test_stage_settings_and_files_name_real_settings() -> None:
    from flows.catalog import CATALOG
    from pipeline.config import load_settings

    settings = load_settings()
    for stage in CATALOG:
        for dotted in (*stage.settings, *stage.files):
            value: object = settings
            for part in dotted.split("."):
                assert hasattr(value, part), f"{stage.name}: no setting {dotted}"
                value = getattr(value, part)


@pytest.mark.parametrize("package", ["flows", "pipeline"])
def test_no_import_reaches_up_into_the_cli_nor_hides_behind_importlib(package: str) -> None:
    for path in _modules(package):
        imported = _imported(ast.parse(path.read_text(encoding="utf-8")))
        assert not {n for n in imported if n.split(".")[0] == "stancemap"}, path
        if package == "flows":
            assert "importlib" not in imported, path


def _module_graph() -> dict[str, set[str]]:
    """Module -> the modules of pipeline/ and flows/ it imports (lazily or not)."""
    paths = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for package in ("pipeline", "flows") for p in _modules(package)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            deps |= {m for m in found if m in paths and not name.startswith(m)}
        graph[name] = deps
    return graph


def test_no_import_cycles() -> None:
    graph = _module_graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module == goal:
                return True
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        return False

    cycles = sorted(m for m in graph if reaches(m, m))
    assert cycles == [], f"modules on an import cycle: {cycles}"
