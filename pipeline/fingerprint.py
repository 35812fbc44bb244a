"""Content hashes of user code, so that changed code re-runs its component.

The pipeline loads user code by dotted path (see configs.py). TFX's cache key
holds a component's inputs and execution properties, but not the source of a
function named by a dotted path, so each component that runs user code gets
the hash of that code as an execution property: edit the code, and the key
changes; leave it alone, and the cached result is reused.

"That code" is the import closure of the component's entry module within
this project's packages, found by reading the sources (never importing
them: building a pipeline must not load TensorFlow), so a module a
component starts to import is hashed without anyone listing it.
"""
import ast
import hashlib
import os
import sys
from typing import Iterable, List, Optional, Sequence, Set

# The project's top-level packages: imports of anything else (the standard
# library, TFX, TensorFlow) are not user code.
PROJECT_PACKAGES = frozenset({
    "components", "movielens_data", "movielens_features", "pipeline",
    "recommender", "reporting", "runtime", "trainer_module"})


def source_fingerprint(entry_modules: Iterable[str],
                       search_path: Optional[Sequence[str]] = None) -> str:
    """SHA-256 over the source of the entry modules and every project module
    they import, directly or not, in sorted order."""
    search_path = list(sys.path if search_path is None else search_path)
    digest = hashlib.sha256()
    for name in import_closure(entry_modules, search_path):
        digest.update(name.encode())
        with open(module_file(name, search_path), "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def file_fingerprint(path: str) -> str:
    """SHA-256 of a file's bytes (the curated schema)."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def import_closure(entry_modules: Iterable[str],
                   search_path: Sequence[str]) -> List[str]:
    """The entry modules, the project modules they import (transitively)
    and the packages holding them (their __init__ runs on import), sorted."""
    seen: Set[str] = set()
    todo = list(entry_modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_parent_packages(name))
        todo.extend(_project_imports(name, search_path))
    return sorted(seen)


def module_file(name: str, search_path: Sequence[str]) -> str:
    """The source file `import name` would load: the first search path entry
    holding <a>/<b>.py or <a>/<b>/__init__.py, as Python's path finder."""
    parts = name.split(".")
    for entry in search_path:
        base = os.path.join(entry or os.curdir, *parts)
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return candidate
    raise ModuleNotFoundError(f"no source for module {name!r} on the path")


def _project_imports(name: str, search_path: Sequence[str]) -> List[str]:
    """Project modules `name` imports anywhere in its source (function-level
    imports count: they run when the component does)."""
    path = module_file(name, search_path)
    with open(path, "rb") as handle:
        tree = ast.parse(handle.read(), filename=path)
    is_package = path.endswith("__init__.py")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, name, is_package)
            found.append(base)
            # `from package import module` imports a module, not a name.
            found.extend(f"{base}.{alias.name}" for alias in node.names
                         if _exists(f"{base}.{alias.name}", search_path))
    return [module for module in found
            if module.split(".")[0] in PROJECT_PACKAGES
            and _exists(module, search_path)]


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".")
    package = package if is_package else package[:-1]
    package = package[:len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


def _parent_packages(name: str) -> List[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _exists(name: str, search_path: Sequence[str]) -> bool:
    try:
        module_file(name, search_path)
    except ModuleNotFoundError:
        return False
    return True
