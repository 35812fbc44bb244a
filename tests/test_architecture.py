"""The import directions of docs/architecture.md, enforced.

Every project .py file outside tests/ is parsed (ast, never imported), and
every import of a project package, at any depth (inside functions and
TYPE_CHECKING blocks too), must be one its layer may make.
"""
import ast
import pathlib
from typing import Dict, Iterator, List, Tuple

import pytest

from conftest import REPO

RUNNERS = ("local_runner", "kubeflow_runner", "kubeflow_v2_runner")

# Layer -> the project packages it may import (itself always allowed): the
# layers below it in the picture of docs/architecture.md.
_BELOW_RUNTIME = ("pipeline", "components", "recommender", "trainer_module",
                  "movielens_features")
# The top row: runners, reporting and benchmarks import none of each other.
_TOP = ("runtime", *_BELOW_RUNTIME, "movielens_data")
ALLOWED: Dict[str, Tuple[str, ...]] = {
    "movielens_features": (),
    "trainer_module": ("movielens_features",),
    "movielens_data": ("movielens_features",),
    "recommender": ("trainer_module", "movielens_features"),
    "components": ("recommender", "trainer_module", "movielens_features"),
    "pipeline": ("components", "recommender", "trainer_module",
                 "movielens_features"),
    "runtime": _BELOW_RUNTIME,
    **{runner: _TOP for runner in RUNNERS},
    "reporting": _TOP,
    "benchmarks": _TOP,
}
PROJECT = set(ALLOWED) | {"tests"}
SKIPPED_DIRS = {".venv", ".git", "tests", "build", "dist", "data",
                "outputs", "notebooks"}
SKIPPED_FILES = {"setup.py"}  # packaging, not code of a layer


def project_files(root: pathlib.Path) -> Iterator[pathlib.Path]:
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if (not SKIPPED_DIRS.intersection(relative.parts[:-1])
                and str(relative) not in SKIPPED_FILES):
            yield path


def layer_of(relative: pathlib.Path) -> str:
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_packages(source: str) -> Iterator[Tuple[int, str]]:
    """(line, top-level name) of every absolute import in the source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def violations(root: pathlib.Path) -> List[str]:
    found = []
    for path in project_files(root):
        relative = path.relative_to(root)
        layer = layer_of(relative)
        if layer not in ALLOWED:
            found.append(f"{relative}: {layer!r} is in no layer of "
                         f"ALLOWED (add it there and to the picture)")
            continue
        for line, name in imported_packages(path.read_text()):
            if (name in PROJECT and name != layer
                    and name not in ALLOWED[layer]):
                found.append(f"{relative}:{line}: {layer} imports {name}")
    return found


def test_every_import_follows_the_allowed_directions():
    assert violations(REPO) == []


def test_the_check_sees_a_forbidden_import(tmp_path):
    """A components module that imports reporting, and a runner that imports
    another runner, are both caught (so the check above can fail)."""
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "bad.py").write_text(
        "def f():\n    from reporting import report\n")
    (tmp_path / "kubeflow_v2_runner.py").write_text("import kubeflow_runner\n")
    (tmp_path / "trainer_module").mkdir()
    (tmp_path / "trainer_module" / "ok.py").write_text(
        "import movielens_features as features\nimport numpy\n")
    assert violations(tmp_path) == [
        "components/bad.py:2: components imports reporting",
        "kubeflow_v2_runner.py:1: kubeflow_v2_runner imports kubeflow_runner",
    ]


@pytest.mark.parametrize("layer,forbidden", [
    ("components", ("reporting", "benchmarks", "pipeline", "runtime",
                    *RUNNERS)),
    ("pipeline", ("reporting", "runtime", "benchmarks", *RUNNERS)),
    ("trainer_module", ("components", "pipeline", "reporting", "runtime",
                        "recommender", "movielens_data")),
    *((runner, tuple(set(RUNNERS) - {runner}) + ("reporting", "benchmarks"))
      for runner in RUNNERS),
    ("reporting", ("benchmarks", *RUNNERS)),
    # The data command and the trainer share the feature names only.
    ("movielens_data", ("trainer_module", "recommender", "pipeline")),
    ("movielens_features", tuple(set(ALLOWED) - {"movielens_features"})),
])
def test_the_rules_of_docs_architecture(layer, forbidden):
    assert not set(forbidden) & set(ALLOWED[layer])
    assert (REPO / "docs" / "architecture.md").is_file()
