"""The package's shape: the plugin contract, light imports, no click outside the CLI."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SOURCES = [ROOT / "plugins", ROOT / "examples" / "eegbench-example-plugin" / "src"]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def test_plugins_import_only_the_api():
    bad = []
    for folder in PLUGIN_SOURCES:
        for path in sorted(folder.rglob("*.py")):
            for line, module in _imports(path):
                top = module.split(".")
                if top[0] == "eegbench" and module != "eegbench.api":
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "plugins may import only eegbench.api:\n" + "\n".join(bad)


def test_the_contract_check_catches_a_violation(tmp_path):
    (tmp_path / "p.py").write_text("from eegbench.train.stage1 import predict\n")
    assert _imports(tmp_path / "p.py") == [(1, "eegbench.train.stage1")]


def test_library_modules_hold_no_click_code():
    bad = []
    for path in sorted((ROOT / "eegbench").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "eegbench").parts:
            continue
        bad += [f"{path.relative_to(ROOT)}:{n}" for n, m in _imports(path) if m == "click"]
    assert not bad, "click belongs in eegbench/cli:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "argv", [["--help"], ["ls"], ["ls", "encoders", "-v"], ["plugins"], ["config"]]
)
def test_listing_commands_import_no_deep_learning_framework(argv):
    """Run as the ``eegbench`` command runs (``main``, with its import guard installed): with
    braindecode installed, its models are listed without importing it or torch."""
    code = (
        "import sys\n"
        "from eegbench.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'open_clip', 'sentence_transformers',"
        " 'braindecode') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stderr, res.stderr
    if argv == ["ls"] and importlib.util.find_spec("braindecode") is not None:
        assert "braindecode:EEGNet" in res.stdout, res.stdout


def test_public_api_loads_lazily():
    code = (
        "import sys, eegbench, eegbench.api\n"
        "assert 'torch' not in sys.modules\n"
        "from eegbench.api import hookimpl, EEGData, Metric, Entry\n"
        "assert 'torch' not in sys.modules\n"
        "assert set(eegbench.api.__all__) <= set(eegbench.__all__)\n"
        "for name in eegbench.__all__:\n"
        "    getattr(eegbench, name)\n"
        "assert 'torch' in sys.modules\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


def test_architecture_doc_names_every_subpackage():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.parent.name for p in (ROOT / "eegbench").glob("*/__init__.py"))
    missing = [p for p in packages if f"eegbench/{p}/" not in doc]
    assert not missing, f"docs/architecture.md does not describe: {missing}"
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "eegbench").rglob("*.py"))
    unnamed = [m for m in modules if Path(m).name != "__init__.py" and Path(m).name not in doc]
    assert not unnamed, f"docs/architecture.md does not mention: {unnamed}"


def _lint_imports(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.fail(
            "import-linter is not installed: install the test extra (pip install -e '.[test]')."
        )
    return subprocess.run(
        [str(exe), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_layers_are_a_contract():
    """No module imports a layer above its own (pyproject.toml [tool.importlinter])."""
    res = _lint_imports()
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "1 kept, 0 broken" in res.stdout


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The same check with two layers swapped fails, naming the import that runs upward."""
    ini = tmp_path / "layers.ini"
    ini.write_text(
        "[importlinter]\nroot_package = eegbench\nexclude_type_checking_imports = true\n\n"
        "[importlinter:contract:swapped]\nname = swapped\ntype = layers\n"
        "layers =\n    eegbench.contract\n    eegbench.bench\n"
    )
    res = _lint_imports(str(ini))
    assert res.returncode != 0
    assert "eegbench.bench is not allowed to import eegbench.contract" in res.stdout


def _facade_imports(submodules: dict[str, str]) -> dict[str, str]:
    """``name -> module`` of the static imports in ``eegbench.api``'s ``TYPE_CHECKING`` block
    (for a name in ``submodules``, imported as a module: the module itself)."""
    tree = ast.parse((ROOT / "eegbench" / "api" / "__init__.py").read_text(encoding="utf-8"))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    for alias in stmt.names:
                        module = (
                            f"{stmt.module}.{alias.name}" if alias.name == "hub" else stmt.module
                        )
                        found[alias.asname or alias.name] = module
    return found


def test_the_plugin_facade_names_each_export_where_tools_see_it():
    """``eegbench.api`` loads its names lazily (no torch on ``import eegbench.api``); each is
    also imported statically in its ``TYPE_CHECKING`` block, from the module it loads it from,
    so that type checkers, IDEs and import-linter see the façade's real dependencies."""
    import eegbench.api

    lazy = {**eegbench.api._EXPORTS, **eegbench.api._MODULES}
    assert _facade_imports(eegbench.api._MODULES) == lazy


def test_no_module_of_eegbench_imports_the_plugin_facade():
    """The core imports the contract's modules (``eegbench.contract``), never the façade the
    plugins import (import-linter holds it at the top; this names the file if it breaks)."""
    bad = []
    for path in sorted((ROOT / "eegbench").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("eegbench/api/") or rel == "eegbench/__init__.py":
            continue
        bad += [f"{rel}:{n}" for n, m in _imports(path) if m == "eegbench.api"]
    assert not bad, bad


MAX_FUNCTION_LINES = 60
LONG_FUNCTIONS: dict[str, str] = {}
"""``path:function`` -> why it may be longer than ``MAX_FUNCTION_LINES`` (none at present)."""


def long_functions(paths: list[Path]) -> list[str]:
    """``path:line function (n lines)`` for each function longer than ``MAX_FUNCTION_LINES``,
    counted from ``def`` to its last line, docstring included."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            n = node.end_lineno - node.lineno + 1
            key = f"{path.relative_to(ROOT).as_posix()}:{node.name}"
            if n > MAX_FUNCTION_LINES and key not in LONG_FUNCTIONS:
                found.append(f"{key} (line {node.lineno}, {n} lines)")
    return found


def test_no_function_is_longer_than_sixty_lines():
    """A long function is split into named steps (a short docstring each), so that a
    newcomer reads what a step does before how."""
    paths = sorted(p for folder in ("eegbench", "plugins") for p in (ROOT / folder).rglob("*.py"))
    found = long_functions(paths)
    assert not found, "split these into named steps:\n" + "\n".join(found)


def test_the_function_length_check_can_fail():
    probe = ROOT / "tests" / "_length_probe.py"
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    probe.write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}")
    try:
        assert long_functions([probe]) == [
            f"tests/_length_probe.py:long (line 5, {MAX_FUNCTION_LINES + 1} lines)"
        ]
    finally:
        probe.unlink()
