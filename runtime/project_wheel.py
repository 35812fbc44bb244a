"""The project's wheel, for Beam workers that do not have the project.

Beam's portable runner stages `--extra_package=<wheel>` to its workers
(runtime/beam_worker_boot.py or Beam's container boot installs it there).
The wheel is built once per content of the project's sources and kept under
a cache folder: an unchanged project is staged without a rebuild.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Iterator, Optional

from pipeline.fingerprint import PROJECT_PACKAGES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP_FILE = "setup.py"


def project_wheel(cache_dir: str, source_root: str = REPO) -> str:
    """Path of the project's wheel for the sources under source_root, built
    (pip wheel: no dependencies, no network) only if cache_dir has none for
    this content yet."""
    if not os.path.isfile(os.path.join(source_root, SETUP_FILE)):
        raise RuntimeError(
            f"no {SETUP_FILE} in {source_root}: the project's wheel is built "
            f"from a source checkout")
    folder = os.path.join(cache_dir, source_digest(source_root)[:16])
    wheel = _wheel_in(folder)
    if wheel is None:
        _build_into(folder, source_root, cache_dir)
        wheel = _wheel_in(folder)
    return wheel


def source_digest(source_root: str) -> str:
    """SHA-256 over the names and bytes of setup.py and every file of the
    project's packages: what the wheel is built from."""
    digest = hashlib.sha256()
    for relative in source_files(source_root):
        digest.update(relative.encode() + b"\0")
        with open(os.path.join(source_root, relative), "rb") as handle:
            digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def source_files(source_root: str) -> Iterator[str]:
    """setup.py and the files of the project's packages (no bytecode), as
    paths relative to source_root, sorted."""
    yield SETUP_FILE
    for package in sorted(PROJECT_PACKAGES):
        top = os.path.join(source_root, package)
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if not name.endswith((".pyc", ".pyo")):
                    yield os.path.relpath(os.path.join(folder, name),
                                          source_root)


def _build_into(folder: str, source_root: str, cache_dir: str) -> None:
    """Builds from a copy of exactly the hashed files (the checkout stays
    clean of build/ and *.egg-info), then moves the result into place in
    one rename, so concurrent builds never see half a wheel."""
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as work:
        source = os.path.join(work, "src")
        for relative in source_files(source_root):
            target = os.path.join(source, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.join(source_root, relative), target)
        built = os.path.join(work, "wheel")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps",
             "--no-build-isolation", "--no-index", "--quiet",
             "--disable-pip-version-check", "--wheel-dir", built, source],
            capture_output=True, text=True, check=False)
        if result.returncode != 0 or _wheel_in(built) is None:
            raise RuntimeError(f"building the project's wheel failed:\n"
                               f"{result.stdout}{result.stderr}")
        try:
            os.rename(built, folder)
        except OSError:
            if _wheel_in(folder) is None:  # not a concurrent build's
                raise


def _wheel_in(folder: str) -> Optional[str]:
    if not os.path.isdir(folder):
        return None
    wheels = sorted(name for name in os.listdir(folder)
                    if name.endswith(".whl"))
    return os.path.join(folder, wheels[0]) if wheels else None
