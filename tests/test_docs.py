"""The API's name table; its verbs (in their home modules) and every public function that returns xarray carry
numpydoc Parameters and Returns sections (the Returns of an xarray result names its dims)."""

from __future__ import annotations

import ast

import pytest

from bayeslaw import api
from tests.test_layers import MODULES, ROOT


def test_the_name_table_is_complete():
    """``__all__`` lists every name of the table, and each name lives where the table says."""
    import importlib

    assert set(api.__all__) == set(api.NAMES)
    for name, module in api.NAMES.items():
        assert hasattr(importlib.import_module(module), name), f"{module} has no {name}"


def _public_functions():
    for name, path in sorted(MODULES.items()):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            returns = ast.unparse(node.returns) if node.returns else ""
            in_api = api.VERBS.get(node.name) == name  # a public verb, in its home module
            if in_api or "xr." in returns:
                yield pytest.param(path, node, "xr." in returns, id=f"{name}.{node.name}")


@pytest.mark.parametrize("path, node, xarray", list(_public_functions()))
def test_numpydoc_sections(path, node, xarray):
    doc = ast.get_docstring(node) or ""
    takes = [a.arg for a in node.args.args + node.args.kwonlyargs]
    if takes:
        assert "Parameters\n----------" in doc, f"{path.relative_to(ROOT)}:{node.lineno} lacks Parameters"
    assert "Returns\n-------" in doc, f"{path.relative_to(ROOT)}:{node.lineno} lacks Returns"
    if xarray:
        returns = doc.split("Returns\n-------", 1)[1]
        assert "dim" in returns.lower(), f"{path.relative_to(ROOT)}:{node.lineno}: Returns should name the dims"
