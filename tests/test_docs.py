"""Public functions of the API, and every public function that returns xarray, carry numpydoc
Parameters and Returns sections (the Returns of an xarray result names its dims)."""

from __future__ import annotations

import ast

import pytest

from bayeslaw import api
from tests.test_layers import MODULES, ROOT


def _public_functions():
    for name, path in sorted(MODULES.items()):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            returns = ast.unparse(node.returns) if node.returns else ""
            in_api = name == "bayeslaw.api" and node.name in api.__all__
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
