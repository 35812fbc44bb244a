"""pipeline.fingerprint: which code edits change which component's key.

Each case imports a copy of trainer_module (first on sys.path, in a fresh
interpreter) and prints the Transform and Trainer fingerprints.
"""
import json
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

_PRINT = ("import json; from pipeline import fingerprint as f; "
          "print(json.dumps([f.source_fingerprint(f.TRANSFORM_MODULES), "
          "f.source_fingerprint(f.TRAINER_MODULES)]))")


def fingerprints(tmp_path, edit=None):
    """(transform, trainer) fingerprints of a copy of trainer_module with
    `edit` (a file name) changed by an appended comment."""
    copy = tmp_path / (edit or "unchanged")
    shutil.copytree(REPO / "trainer_module", copy / "trainer_module",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if edit:
        with open(copy / "trainer_module" / edit, "a") as handle:
            handle.write("\n# edited\n")
    launcher = f"import sys; sys.path.insert(0, {str(copy)!r}); {_PRINT}"
    out = subprocess.run([sys.executable, "-c", launcher], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out))


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory):
    return fingerprints(tmp_path_factory.mktemp("fingerprint"))


def test_same_source_same_fingerprints_wherever_it_lives(unchanged):
    from pipeline import fingerprint
    assert unchanged == (
        fingerprint.source_fingerprint(fingerprint.TRANSFORM_MODULES),
        fingerprint.source_fingerprint(fingerprint.TRAINER_MODULES))


@pytest.mark.parametrize("edit", ["preprocessing.py", "features.py"])
def test_preprocessing_edit_changes_transform_and_trainer(unchanged, edit,
                                                          tmp_path):
    transform, trainer = fingerprints(tmp_path, edit)
    assert transform != unchanged[0]
    assert trainer != unchanged[1]


@pytest.mark.parametrize("edit", ["trainer.py", "model.py", "hparams.py"])
def test_trainer_edit_changes_only_the_trainer(unchanged, edit, tmp_path):
    transform, trainer = fingerprints(tmp_path, edit)
    assert transform == unchanged[0]
    assert trainer != unchanged[1]


def test_module_order_does_not_matter():
    from pipeline import fingerprint
    names = list(fingerprint.TRAINER_MODULES)
    assert (fingerprint.source_fingerprint(names)
            == fingerprint.source_fingerprint(reversed(names)))
