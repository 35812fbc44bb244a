"""pipeline.fingerprint: an edit of a module re-runs exactly the components
whose code imports it.

Each case is a copy of the project's packages with one module edited (an
appended comment) or added; the pipeline is built with each copy first on
sys.path (as the edited-preprocessing run of pipeline_history.py does), and
every component's code fingerprint is read from its execution properties:
the cache key TFX compares.
"""
import os
import re
import shutil
import sys

import pytest
from google.protobuf import json_format, message

from conftest import REPO
from pipeline import fingerprint


def copy_keys(copy) -> dict:
    """{component id: fingerprint} of both objectives' pipelines, built with
    `copy` first on sys.path: the pipeline's own code is the one already
    imported; the fingerprints read the copy's files."""
    from pipeline.pipeline import create_pipeline
    from pipeline.settings import PipelinePaths, Split
    from trainer_module import objectives
    found = {}
    sys.path.insert(0, copy)
    try:
        for objective in ("rating", "ranking"):
            hparams = objectives.hparams_from_dict({"objective": objective})
            paths = PipelinePaths("/tmp/root", "/tmp/data", "/tmp/s",
                                  schema_path=os.path.join(
                                      copy, "pipeline", "schema",
                                      "schema.pbtxt"))
            for node in create_pipeline("p", paths, hparams,
                                        split=Split("user_stratified")
                                        ).components:
                # A parameter of its own, or in a custom_config (JSON or
                # proto).
                text = " ".join(f"{key}=" + (
                    json_format.MessageToJson(value)
                    if isinstance(value, message.Message) else str(value))
                    for key, value in node.exec_properties.items())
                match = re.search(r"code_fingerprint\W+([0-9a-f]{64})", text)
                if match:
                    found[node.id] = match.group(1)
    finally:
        sys.path.remove(copy)
    # Nothing was imported from the copy: this process's modules stay the
    # project's own.
    assert not [name for name, module in list(sys.modules.items())
                if (getattr(module, "__file__", None) or "").startswith(
                    copy + os.sep)]
    return found


# Every component that runs this project's code.
WITH_USER_CODE = {"CsvExampleGen", "AnomaliesGate", "NegativeSampler",
                  "Transform", "Trainer", "Evaluator", "TopKEvaluator",
                  "Pusher", "BatchRecommender"}
# ImportSchemaGen's key holds the schema file's path; the fingerprint adds
# its content.
FINGERPRINTED = WITH_USER_CODE | {"ImportSchemaGen"}
# A module added (and imported by the model code) in some copies.
NEW_MODULE = ("trainer_module/extra_layers.py", "trainer_module/model.py")
EDITS = {
    "pipeline/schema/schema.pbtxt": {"ImportSchemaGen"},
    # Only the Evaluator's custom extractors: hashed now, stale before.
    "trainer_module/tfma_extractors.py": {"Evaluator"},
    "components/anomalies_gate/gate.py": {"AnomaliesGate"},
    "components/atomic_pusher/push.py": {"Pusher", "BatchRecommender"},
    "components/stratified_example_gen/splitting.py": {"CsvExampleGen"},
    "recommender/metrics.py": {"TopKEvaluator", "BatchRecommender"},
    "recommender/catalog.py": {"TopKEvaluator", "NegativeSampler",
                               "BatchRecommender"},
    # The NegativeSampler through raw_examples.py (the raw genres' parsing).
    "trainer_module/preprocessing.py":
        {"Transform", "Trainer", "TopKEvaluator", "AnomaliesGate",
         "NegativeSampler", "BatchRecommender"},
    # Model code: the Trainer, and the components that score with it.
    "trainer_module/model.py": {"Trainer", "TopKEvaluator",
                                "BatchRecommender"},
    # Feature names: everything that reads examples.
    "movielens_features/__init__.py":
        WITH_USER_CODE - {"CsvExampleGen", "Pusher"},
}


def project_copy(path, edit=None, new_module=None) -> str:
    """A copy of the project's packages with `edit` (a file) changed by an
    appended comment; new_module=(file, importer) adds a module and an
    import of it to `importer`."""
    for package in sorted(fingerprint.PROJECT_PACKAGES):
        shutil.copytree(REPO / package, path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    if new_module:
        added, importer = new_module
        (path / added).write_text("VALUE = 1\n")
        with open(path / importer, "a") as handle:
            handle.write(f"\nimport {added[:-3].replace('/', '.')}  # noqa\n")
    if edit:
        with open(path / edit, "a") as handle:
            handle.write("\n# edited\n")
    return str(path)


@pytest.fixture(scope="module", name="keys")
def fixture_keys(tmp_path_factory):
    """{case: {component id: fingerprint}} for every copy."""
    base = tmp_path_factory.mktemp("fingerprint")
    cases = {"unchanged": project_copy(base / "unchanged"),
             "moved": project_copy(base / "elsewhere" / "moved"),
             "added": project_copy(base / "added", new_module=NEW_MODULE),
             "added_edited": project_copy(
                 base / "added_edited", NEW_MODULE[0], NEW_MODULE)}
    for number, edit in enumerate(EDITS):
        cases[edit] = project_copy(base / f"edit{number}", edit)
    return {case: copy_keys(path) for case, path in cases.items()}


def changed(before, after):
    return {node for node in before if after[node] != before[node]}


def test_every_component_with_user_code_has_a_fingerprint(keys):
    assert set(keys["unchanged"]) == FINGERPRINTED


def test_same_source_same_fingerprints_wherever_it_lives(keys):
    assert keys["moved"] == keys["unchanged"]


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_changes_exactly_the_components_importing_it(keys, edit):
    assert changed(keys["unchanged"], keys[edit]) == EDITS[edit]


def test_a_module_no_one_listed_is_hashed_once_imported(keys):
    # A new module imported by the model code: its edit re-runs the Trainer
    # (and the TopKEvaluator) without anyone adding it to a list.
    assert changed(keys["added"], keys["added_edited"]) == {
        "Trainer", "TopKEvaluator", "BatchRecommender"}


def test_closure_follows_from_imports_and_relative_imports(tmp_path):
    package = tmp_path / "components" / "demo"
    package.mkdir(parents=True)
    (tmp_path / "components" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "executor.py").write_text(
        "import os\nfrom . import helper\n"
        "def run():\n    from components.demo.lazy import f\n")
    (package / "helper.py").write_text("from ..demo import util\n")
    (package / "util.py").write_text("import numpy\n")
    (package / "lazy.py").write_text("")
    (package / "unused.py").write_text("")
    assert fingerprint.import_closure(
        ["components.demo.executor"], [str(tmp_path)]) == [
        "components", "components.demo", "components.demo.executor",
        "components.demo.helper", "components.demo.lazy",
        "components.demo.util"]


def test_module_order_does_not_matter():
    names = ["trainer_module.trainer", "components.topk_evaluator.executor"]
    assert (fingerprint.source_fingerprint(names)
            == fingerprint.source_fingerprint(reversed(names)))
