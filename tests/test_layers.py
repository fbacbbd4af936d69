"""The house rules: layers point one way, no import cycles, a light top-level package and CLI.

Every import statement is read from the source (function-local ones too), so a cycle or an
upward import cannot hide inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "bayeslaw"

#: What each layer may import (besides itself). Lower layers never import higher ones.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "decide": {"core"},
    "data": {"core"},
    "model": {"core", "data"},
    "posterior": {"core", "data", "model"},
    "inference": {"core", "data", "model", "posterior"},
    "planning": {"core"},
    "decision": {"core", "data", "posterior", "planning", "decide"},
    "reporting": {"core", "data", "posterior", "planning", "decide", "decision"},
    "validate": {"core", "data", "model", "posterior", "inference", "reporting"},
    "api": {"core", "data", "model", "posterior", "inference", "planning", "decide", "decision", "reporting",
            "validate"},
    "cli": {"core", "data", "inference", "decision", "reporting", "api"},
    "__init__": {"api", "core"},
}
HEAVY = ("pymc", "pytensor", "nutpie", "arviz", "arviz_stats", "arviz_base", "arviz_plots", "xarray", "pandas",
         "scipy", "matplotlib", "numpyro", "jax", "dask")


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, ast.stmt, bool]]:
    """``(imported bayeslaw module, node, is function-local)`` for every import in a module."""
    tree = ast.parse(path.read_text(), str(path))
    local = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
             for n in ast.walk(f) if isinstance(n, ast.Import | ast.ImportFrom)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: -node.level if path.name != "__init__.py" else len(name.split("."))]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            if t in MODULES and t != "bayeslaw" and t != name:
                out.append((t, node, id(node) in local))
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def test_layers_point_one_way():
    bad = []
    for name, path in MODULES.items():
        here = _layer(name)
        for target, node, _ in _imports(name, path):
            there = _layer(target)
            if there != here and there not in ALLOWED[here]:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} ({here}) imports {target} ({there})")
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)


def test_every_layer_is_declared():
    assert {_layer(m) for m in MODULES} <= set(ALLOWED)


def test_no_import_cycles():
    graph = {m: {t for t, _, _ in _imports(m, p) if not m.startswith(t + ".")} for m, p in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
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
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    assert not cycles, f"import cycles: {cycles}"


def test_function_local_imports_say_why():
    """A function-local import is for a heavy or optional dependency, and a comment says which."""
    bad = []
    for path in MODULES.values():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for f in ast.walk(tree):
            if not isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in (n for n in ast.walk(f) if isinstance(n, ast.Import | ast.ImportFrom)):
                # one comment may explain a run of imports (blank lines between isort's groups)
                i, said = node.lineno - 1, False
                while i >= 0 and (lines[i].strip() == "" or lines[i].lstrip().startswith(("import ", "from "))):
                    said = said or "#" in lines[i]
                    i -= 1
                if not said:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "function-local imports without a reason:\n" + "\n".join(bad)


#: The reasons a function may import one of bayeslaw's own modules (docs/architecture.md states each).
LOCAL_IMPORT_REASONS = ("after the checks:", "light CLI:")


def test_function_local_imports_of_bayeslaw_have_a_stated_reason():
    """An own-module import inside a function carries one of the reasons the architecture page states."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    assert all(f"`{r}`" in page for r in LOCAL_IMPORT_REASONS), "docs/architecture.md must state each reason"
    bad = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for target, node, local in _imports(name, path):
            if local and not any(r in lines[node.lineno - 1] for r in LOCAL_IMPORT_REASONS):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
    assert not bad, "function-local imports of bayeslaw modules without a stated reason:\n" + "\n".join(bad)


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    return {m for m in out if m.split(".")[0] in HEAVY}


def test_import_bayeslaw_is_light():
    assert not _loaded_after("import bayeslaw; bayeslaw.__version__")


def test_cli_help_and_argument_errors_load_nothing_heavy():
    code = ("from bayeslaw.cli import main\n"
            "for argv in (['--help'], ['predict']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass")
    assert not {m.split(".")[0] for m in _loaded_after(code)} - {"numpy"}


@pytest.mark.heavy
@pytest.mark.parametrize("code", [
    "import bayeslaw as bl\n"
    "fit = bl.load('models/supervised_chinchilla_epoch240.nc')\n"
    "bl.predict(fit, [1e9], [2e10]); bl.optimum(fit, [1e21])",
    "import bayeslaw as bl\n"
    "fit = bl.load('models/distillation_SYNTHETIC_paper_design.nc')\n"
    "bl.predict_distillation(fit, N_S=5e8, D_S=1e10, L_T=2.3)\n"
    "bl.plan(fit, [1e9], [1e21], ('teacher_inference',), max_draws=20)",
])
def test_prediction_and_planning_from_a_saved_posterior_need_no_pymc(code):
    loaded = {m.split(".")[0] for m in _loaded_after(code)}
    assert not loaded & {"pymc", "pytensor", "nutpie"}, loaded


def test_the_architecture_page_states_the_enforced_table():
    """docs/architecture.md's table of layers says what each may import, exactly as :data:`ALLOWED` enforces."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    stated = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        layer = cells[0].strip("`").removesuffix("/").removesuffix(".py")
        imports = cells[2]
        stated[layer] = (set() if imports.startswith("numpy") else
                         set(ALLOWED) - {"__init__", "cli"} - {layer} if imports == "everything" else
                         {x.strip() for x in imports.split(",")})
    assert set(stated) == set(ALLOWED), sorted(set(stated) ^ set(ALLOWED))
    for layer, allowed in ALLOWED.items():
        assert stated[layer] == allowed, (layer, sorted(stated[layer] ^ allowed))
