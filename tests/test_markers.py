"""The e2e marking of conftest.py names tests, fixtures and modules that
exist: a renamed one would silently move a slow test into the fast set."""
import ast
import pathlib

import conftest

TESTS = pathlib.Path(__file__).resolve().parent


def _functions(module):
    tree = ast.parse((TESTS / f"{module}.py").read_text())
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef)}


def test_every_named_e2e_test_exists():
    for module, names in conftest.E2E_TESTS.items():
        assert names <= _functions(module), module


def test_every_e2e_fixture_and_module_exists():
    defined = set()
    for path in TESTS.glob("*.py"):
        defined |= _functions(path.stem)
    assert conftest._E2E_FIXTURES <= defined
    assert {path.stem for path in TESTS.glob("test_*.py")} >= (
        conftest._E2E_MODULES)
